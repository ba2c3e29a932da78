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
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'))
    .sort()
}
