/**
 * The client build's output, handed to the server build of the same command (SvelteKit, React
 * Router): both run in one process, each with its own plugin instance (the framework loads
 * `vite.config` once per build), so the hand-over lives on `globalThis`, keyed by project root.
 */
export interface ClientOutput {
  /** Absolute directory the client build wrote. */
  outDir: string
  /** The manifest's path relative to `outDir`, and its text as the client build wrote it. */
  manifest: string
  manifestText: string
}

const KEY = Symbol.for('vite-plugin-cdn-publish.client-outputs')
const outputs = ((globalThis as Record<symbol, unknown>)[KEY] ??= new Map<string, ClientOutput>()) as Map<string, ClientOutput>

export function handOver(root: string, output: ClientOutput): void {
  outputs.set(root, output)
}

/** The client output handed over for `root`, once: a second server build of the command finds none. */
export function takeOver(root: string): ClientOutput | undefined {
  const output = outputs.get(root)
  outputs.delete(root)
  return output
}
