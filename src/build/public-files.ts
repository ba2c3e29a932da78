import { readdirSync } from 'node:fs'
import path from 'node:path'

/** Every file below `dir`, as sorted POSIX paths relative to it; empty when `dir` does not exist. */
export function listFiles(dir: string): string[] {
  let entries
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true })
  } catch {
    return []
  }
  const root = path.resolve(dir)
  const base = root.endsWith(path.sep) ? root : root + path.sep
  // every entry's parentPath is `dir` or a folder below it: the part after `dir` is the relative folder
  const under = (parent: string) => {
    const resolved = path.resolve(parent)
    return resolved === root ? '' : `${resolved.slice(base.length).split(path.sep).join('/')}/`
  }
  const prefixes = new Map<string, string>()
  const files: string[] = []
  for (const e of entries) {
    if (!e.isFile()) continue
    let prefix = prefixes.get(e.parentPath)
    if (prefix === undefined) prefixes.set(e.parentPath, (prefix = under(e.parentPath)))
    files.push(prefix + e.name)
  }
  return files.sort()
}
