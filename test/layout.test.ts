/**
 * The source layout's one rule: dependencies flow one way. No import cycle between files, and
 * none between folders (a folder is `src/<name>/`; a file at `src/` is its own node). Type-only
 * imports count: a cycle of types is still a knot a reader has to untie.
 */
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, test } from 'vitest'
import { repoRoot } from './helpers/build.js'

const SRC = path.join(repoRoot, 'src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? sourceFiles(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : [],
  )
}

/** Every relative import (static, type-only or dynamic) of each source file, as src-relative paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8')
    const deps = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm)].map((m) =>
      path.relative(SRC, path.resolve(path.dirname(file), m[2]!)).replace(/\.js$/, '.ts'),
    )
    graph.set(path.relative(SRC, file), [...new Set(deps)])
  }
  return graph
}

/** The cycles of a directed graph (one per strongly connected component with more than one node or a self-edge). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0
  const idx = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const on = new Set<string>()
  const out: string[][] = []
  const visit = (v: string) => {
    idx.set(v, index)
    low.set(v, index++)
    stack.push(v)
    on.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v)!, low.get(w)!))
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = []
      let w: string
      do {
        w = stack.pop()!
        on.delete(w)
        scc.push(w)
      } while (w !== v)
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort())
    }
  }
  for (const v of graph.keys()) if (!idx.has(v)) visit(v)
  return out
}

const folderOf = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) + '/' : file)

describe('source layout', () => {
  const graph = importGraph()

  test('every relative import names a source file', () => {
    const missing = [...graph].flatMap(([file, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${file} → ${d}`))
    expect(missing).toEqual([])
  })

  test('no import cycle between files', () => {
    expect(cycles(graph)).toEqual([])
  })

  test('no import cycle between folders', () => {
    const folders = new Map<string, string[]>()
    for (const [file, deps] of graph) {
      const from = folderOf(file)
      const to = deps.map(folderOf).filter((f) => f !== from)
      folders.set(from, [...new Set([...(folders.get(from) ?? []), ...to])])
    }
    expect(cycles(folders)).toEqual([])
  })

  test('the cycle finder finds cycles', () => {
    expect(cycles(new Map([['a', ['b']], ['b', ['a']], ['c', ['a']]]))).toEqual([['a', 'b']])
  })
})
