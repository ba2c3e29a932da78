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
  /** How many server builds of the command are still to finish (React Router's `serverBundles`: one per bundle); the last one publishes. */
  servers?: number
}

const KEY = Symbol.for('vite-plugin-cdn-publish.client-outputs')
const outputs = ((globalThis as Record<symbol, unknown>)[KEY] ??= new Map<string, ClientOutput>()) as Map<string, ClientOutput>

export function handOver(root: string, output: ClientOutput): void {
  outputs.set(root, output)
}

/**
 * The client output handed over for `root`, to the last of the command's server builds (one
 * unless `servers` says more); the others, and a further server build, find none.
 */
export function takeOver(root: string): ClientOutput | undefined {
  const output = outputs.get(root)
  if (output && (output.servers ?? 1) > 1) {
    output.servers = (output.servers ?? 1) - 1
    return undefined
  }
  outputs.delete(root)
  return output
}
