/**
 * SvelteKit's adapters copy the client output (`.svelte-kit/output/client`, without `.vite/`)
 * and the prerendered pages into the directory they deploy: adapter-static `build/` (its
 * `pages` option), adapter-node `build/client` (its `out` option), others elsewhere. Which one
 * is the adapter's own option, not visible to Vite plugins; the copy of the client build's
 * manifest the adapter made says where it went.
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'
import { CdnPublishError, Codes } from '../errors.js'

/** How deep below the project root an adapter's output is looked for. */
const MAX_DEPTH = 3
const SKIP = new Set(['node_modules', 'src', 'static'])

export async function adapterOutput(input: { clientOutDir: string; root: string; manifest: string; manifestText: string }): Promise<string> {
  const name = input.manifest
  const found: string[] = []
  const visit = async (dir: string, depth: number): Promise<void> => {
    let entries
    try {
      entries = await readdir(dir, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of entries) {
      if (e.isFile() && e.name === name && dir !== input.clientOutDir) {
        const text = await readFile(path.join(dir, e.name), 'utf8').catch(() => undefined)
        if (text === input.manifestText) found.push(dir)
      } else if (e.isDirectory() && depth < MAX_DEPTH && !e.name.startsWith('.') && !SKIP.has(e.name)) {
        await visit(path.join(dir, e.name), depth + 1)
      }
    }
  }
  await visit(input.root, 0)
  if (found.length === 1) return found[0]
  const rel = (d: string) => path.relative(input.root, d) || '.'
  throw new CdnPublishError(
    Codes.PUBLISH_FAILED,
    found.length === 0
      ? `SvelteKit: no copy of the client output (${rel(input.clientOutDir)}/${name}) was found below ${input.root} after the adapter ran, so the directory it deploys is unknown. Set \`publish.dir\` to that directory (for example 'build' for adapter-static, 'build/client' for adapter-node).`
      : `SvelteKit: the client output was copied to ${found.map(rel).join(' and ')}; set \`publish.dir\` to the one a CDN origin serves.`,
    { option: 'publish.dir' },
  )
}
