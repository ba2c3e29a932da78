/**
 * What the plugin does once a client build has written its output (`closeBundle`): nothing
 * without a bucket (one line says so), a warning when the manifest is turned off, otherwise the
 * deploy core over the output directory. The deploy core, and with it the AWS SDK, is loaded
 * here, on the first publish, never by importing the plugin.
 */
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { BuildContext } from './build/context.js'
import { type Code, CdnPublishError, Codes } from './errors.js'
import { buildLogger, type LogContext, type ViteLogSink } from './log.js'
import { handOver, takeOver } from './frameworks/handoff.js'
import type { ResolvedOptions } from './options/resolve.js'

export const SKIPPED_NO_BUCKET = 'publishing skipped: no bucket (set publish.bucket or CDN_PUBLISH_BUCKET)'

/** The plugin context's logs and error (Rollup, Rolldown and Vite alike). */
export interface StepContext extends LogContext {
  error(log: { code: string; message: string; [key: string]: unknown }): never
}

export interface AfterBuildInput {
  options: ResolvedOptions
  /** Vite's resolved config, for its logger; undefined under plain Rollup. */
  vite: ViteLogSink | undefined
  /** The project root (`projectRoot`): where a relative `publish.report` and the default report go. */
  root: string
  /** Absolute directory the build wrote, as the CDN origin serves it. */
  dir: string
}

/**
 * The project's root: the nearest directory from Vite's root up that holds a package.json (Vite's
 * root is a source directory under vite_ruby, `app/frontend`), else Vite's root itself.
 */
export function projectRoot(viteRoot: string): string {
  for (let dir = viteRoot; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) return viteRoot
  }
}

/** The directory `publish.dir` names, absolute; undefined when it is not set. */
export function chosenDir(options: ResolvedOptions, root: string): string | undefined {
  const { publish } = options
  return publish !== false && publish.dir !== undefined ? path.resolve(root, publish.dir) : undefined
}

/** What of a build decides what it publishes: Vite's config, the framework, what the client output wrote. */
export type BuildState = Pick<BuildContext, 'vite' | 'framework' | 'written'>

/**
 * The publish step of a finished build (`closeBundle`) or app build (after a framework's
 * `buildApp` hook): the directory it publishes, if any, through the deploy core. An error fails
 * the build through `ctx`.
 */
export async function publishStep(ctx: StepContext, build: BuildState, ssr: boolean, options: ResolvedOptions): Promise<void> {
  let dir: string | undefined
  try {
    dir = await directoryToPublish(build, ssr, options)
  } catch (err) {
    fail(ctx, err)
  }
  if (dir) await publishAfterBuild(ctx, { options, vite: build.vite, root: projectRoot(build.vite?.root ?? process.cwd()), dir })
}

/**
 * The directory this build publishes once it is done; undefined when it publishes nothing: a
 * server build of a framework that publishes from its client build (or of none), a client build
 * whose framework writes the rest later, which hands its output to the server build instead, or
 * any build of a framework whose own integration publishes (Nuxt).
 */
export async function directoryToPublish(build: BuildState, ssr: boolean, options: ResolvedOptions): Promise<string | undefined> {
  const root = projectRoot(build.vite?.root ?? process.cwd())
  const framework = build.framework
  const { publish, build: b } = options
  const chosen = chosenDir(options, root)
  // the framework's integration publishes its assembled output (frameworks/index.ts)
  if (framework?.publishIn === 'framework') return undefined
  if (!ssr) {
    const written = build.written
    if (!written) return undefined
    if (framework?.publishIn !== 'server' || publish === false || b.manifest === false) return chosen ?? written.outDir
    handOver(root, {
      outDir: written.outDir,
      manifest: b.manifest,
      manifestText: await readFile(path.join(written.outDir, b.manifest), 'utf8'),
      servers: (build.vite && framework.serverBuilds?.(build.vite)) || 1,
    })
    return undefined
  }
  if (framework?.publishIn !== 'server') return undefined
  const client = takeOver(root)
  if (!client) return undefined
  // without a bucket nothing is looked for: the publish step only says it is skipped
  if (chosen || publish === false || publish.bucket === undefined) return chosen ?? client.outDir
  return framework.finalDir({ clientOutDir: client.outDir, root, manifest: client.manifest, manifestText: client.manifestText })
}

/** What of a Vite plugin the app builder reads for its `buildApp` hook. */
interface BuildAppPlugin {
  name?: string
  buildApp?: ((...args: any[]) => unknown) | { order?: string; handler: (...args: any[]) => unknown }
}

/**
 * Run `after` once the `buildApp` hook of the plugin named `name` (a framework's, listed among
 * `plugins`, the app builder's) has finished, by wrapping that hook's handler; false when no
 * such hook exists. The builder reads each hook when it calls it, so this works from any
 * `buildApp` handler that runs before that one.
 */
export function afterBuildAppOf(plugins: readonly unknown[], name: string, after: () => Promise<void>): boolean {
  const plugin = plugins.find((p): p is BuildAppPlugin => typeof p === 'object' && p !== null && (p as BuildAppPlugin).name === name)
  const hook = plugin?.buildApp
  if (!plugin || !hook) return false
  const handler = typeof hook === 'function' ? hook : hook.handler
  const wrapped = async function (this: unknown, ...args: unknown[]) {
    await handler.apply(this, args)
    await after()
  }
  if (typeof hook === 'function') plugin.buildApp = wrapped
  else hook.handler = wrapped
  return true
}

export async function publishAfterBuild(ctx: StepContext, input: AfterBuildInput): Promise<void> {
  const { publish, retention, build } = input.options
  if (publish === false) return
  const logger = buildLogger(ctx, input.vite)
  const bucket = publish.bucket
  if (bucket === undefined) {
    logger.info(SKIPPED_NO_BUCKET)
    return
  }
  if (build.manifest === false) {
    logger.warn(
      `publishing to bucket "${bucket}" skipped: \`manifest: false\` writes no manifest, and publishing needs it. Remove \`manifest: false\`, or set \`publish: false\`.`,
      Codes.PUBLISH_SKIPPED,
    )
    return
  }
  const { deployDirectory, defaultReportPath } = await import('./deploy/index.js')
  try {
    await deployDirectory({
      dir: input.dir,
      manifest: build.manifest,
      options: { ...publish, bucket },
      retention,
      logger,
      report: publish.report === false ? false : publish.report === undefined ? defaultReportPath(input.root) : path.resolve(input.root, publish.report),
      pages: { fingerprintPublic: build.fingerprintPublic, hashLength: build.hashLength, sri: build.sri, skewGuard: build.skewGuard, base: build.base },
    })
  } catch (err) {
    fail(ctx, err)
  }
}

/**
 * A step context over a framework's own logger (Astro's; the context of Vite's `buildApp` hook,
 * whose `error` throws the bare log object): info and warnings as lines, an error thrown as a
 * `CdnPublishError` with its code and data, so the framework prints the message and fails.
 */
export function loggerContext(logger: { info(line: string): void; warn(line: string): void }): StepContext {
  return {
    info: (log) => logger.info(typeof log === 'string' ? log : log.message),
    warn: (log) => logger.warn(`${log.message} [${log.code}]`),
    error: ({ code, message, stack, ...data }) => {
      const err = new CdnPublishError(code as Code, message, data)
      if (typeof stack === 'string') err.stack = stack
      throw err
    },
  }
}

/**
 * Fail the build. A coded error is reported by its message alone (no stack trace: the message
 * says what failed and what to do); `DEBUG=cdn-publish` keeps the stack. Anything else is a bug
 * and keeps its stack.
 */
export function fail(ctx: StepContext, err: unknown): never {
  if (!(err instanceof CdnPublishError)) throw err
  const debug = /(?:^|,)\s*(?:cdn-publish|\*)\s*(?:,|$)/.test(process.env.DEBUG ?? '')
  const stack = debug ? err.stack : `CdnPublishError [${err.code}]: ${err.message}`
  return ctx.error({ ...err.data, code: err.code, message: err.message, stack })
}
