import type { ViteConfigLike } from '../plugin.js'
import type { PublishOptions } from './options.js'

/** What the plugin hands the publish step after a client build wrote its output. */
export interface PublishStepInput {
  options: PublishOptions | false | undefined
  vite: ViteConfigLike | undefined
  /** Absolute output directory. */
  outDir: string
  /** Manifest file name relative to `outDir`; `false` when the user turned the manifest off. */
  manifest: string | false
  label: string | undefined
}

/** The parts of the plugin context the publish step may use (Rollup/Rolldown `closeBundle` context). */
export interface StepContext {
  warn(log: { code: string; message: string; [key: string]: unknown }): void
  error(log: { code: string; message: string; [key: string]: unknown }): never
  info?(log: { code?: string; message: string } | string): void
}

/** Publish the written output (closeBundle). Not yet implemented: publishing is a no-op. */
export async function runPublishStep(_ctx: StepContext, _input: PublishStepInput): Promise<void> {}
