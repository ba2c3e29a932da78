/**
 * The Nuxt module (`modules: ['vite-plugin-cdn-publish/nuxt']`, options under `cdnPublish` in
 * nuxt.config, the same as the Vite plugin's):
 *
 * 1. adds the plugin to Nuxt's client Vite build (not the server build), told where Nuxt's public
 *    files are and which part of the client output Nitro serves (./frameworks/nuxt.ts): public
 *    files named by stylesheets get fingerprinted copies under the asset base (`/_nuxt/`, or
 *    `app.cdnURL`);
 * 2. once Nitro has assembled `.output/public` (its `compiled` hook: client assets, public files,
 *    prerendered pages, `_nuxt/builds/`), writes the manifest there (the client build's, for the
 *    files Nitro copied, with the app's base URL) and publishes that directory, once per build.
 *    Prerendered pages get fingerprinted copies of the public files they name only under
 *    `nuxi generate` (a static preset): a Nitro server serves the pages it compiled, as compiled.
 *
 * A plain module function with `getMeta`, as Nuxt accepts it: no dependency on `@nuxt/kit`. The
 * dev server, `nuxi prepare` and the prerender's own Nitro build do nothing.
 */
import { readFile, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { CdnPublishError, Codes } from './errors.js'
import { nuxtFramework, servedDir } from './frameworks/nuxt.js'
import { LOG_PREFIX } from './log.js'
import type { ResolvedOptions } from './options/resolve.js'
import type { CdnPublishOptions } from './options/types.js'
import { createPlugin } from './plugin.js'

/** What of Nuxt's options the module reads. */
interface NuxtOptionsLike {
  dev: boolean
  rootDir: string
  _prepare?: boolean
  dir?: { public?: string }
  app: { baseURL: string; buildAssetsDir: string }
  _layers?: { cwd: string; config: { rootDir?: string; dir?: { public?: string } } }[]
  cdnPublish?: CdnPublishOptions | false
}

interface NitroLike {
  options: { output: { publicDir: string }; static?: boolean }
  hooks: { hook(name: 'compiled', fn: (nitro: NitroLike) => void | Promise<void>): unknown }
}

interface ViteConfigLike {
  plugins?: unknown[]
  build?: { outDir?: string }
}

/** What of the Nuxt instance the module uses. */
export interface NuxtLike {
  options: NuxtOptionsLike
  hook(name: 'vite:extendConfig', fn: (config: ViteConfigLike, env: { isClient: boolean; isServer: boolean }) => void): unknown
  hook(name: 'nitro:init', fn: (nitro: NitroLike) => void): unknown
}

/**
 * The module: Nuxt's `NuxtModule<CdnPublishOptions>` in shape (Nuxt types the `cdnPublish` key of
 * nuxt.config from it and `getMeta`), without a dependency on `@nuxt/schema`: the Nuxt instance is
 * typed loosely here and read through `NuxtLike`.
 */
export interface CdnPublishNuxtModule {
  (inlineOptions: CdnPublishOptions, nuxt: any): Promise<void>
  getMeta(): Promise<{ name: string; configKey: 'cdnPublish'; compatibility: { nuxt: string } }>
}

const cdnPublishNuxt: CdnPublishNuxtModule = Object.assign(
  async function cdnPublishNuxt(inlineOptions: CdnPublishOptions, nuxt: NuxtLike): Promise<void> {
    const o = nuxt.options
    if (o.dev || o._prepare || o.cdnPublish === false) return
    const options: CdnPublishOptions = { ...o.cdnPublish, ...inlineOptions }
    const framework = nuxtFramework({ publicDirs: publicDirs(o), buildAssetsDir: o.app.buildAssetsDir })
    let clientDir: string | undefined

    nuxt.hook('vite:extendConfig', (config, { isClient }) => {
      if (!isClient) return
      ;(config.plugins ??= []).push(createPlugin(options, framework))
      clientDir = config.build?.outDir
    })

    nuxt.hook('nitro:init', (nitro) => {
      let done = false
      nitro.hooks.hook('compiled', async (built) => {
        // the prerenderer's Nitro build, and any later one, publish nothing
        if (built !== nitro || done) return
        done = true
        await publishOutput({
          options,
          root: o.rootDir,
          clientDir,
          publicDir: nitro.options.output.publicDir,
          baseURL: o.app.baseURL,
          buildAssetsDir: o.app.buildAssetsDir,
          servedByNitro: !nitro.options.static,
        })
      })
    })
  },
  {
    getMeta: async () => ({ name: 'vite-plugin-cdn-publish', configKey: 'cdnPublish' as const, compatibility: { nuxt: '>=3.0.0' } }),
  },
)

export default cdnPublishNuxt

function publicDirs(o: NuxtOptionsLike): string[] {
  const own = path.resolve(o.rootDir, o.dir?.public ?? 'public')
  const layers = (o._layers ?? []).map((l) => path.resolve(l.config.rootDir ?? l.cwd, l.config.dir?.public ?? 'public'))
  return [...new Set([own, ...layers])]
}

interface OutputInput {
  options: CdnPublishOptions
  root: string
  clientDir: string | undefined
  /** `.output/public` */
  publicDir: string
  baseURL: string
  buildAssetsDir: string
  /**
   * Whether Nitro's server serves `.output/public` (every preset but the static ones of
   * `nuxi generate`): it serves the files it compiled, with the sizes they had then, so the
   * prerendered pages there are published as they are, not rewritten to name fingerprinted copies.
   */
  servedByNitro: boolean
}

/** The module's publish step: the manifest of `.output/public`, then the deploy core over it. */
async function publishOutput(input: OutputInput): Promise<void> {
  const run = await import('./runtime.js')
  // Nuxt's console: info on stdout, warnings on stderr
  const ctx = run.loggerContext({ info: (line) => process.stdout.write(`${line}\n`), warn: (line) => process.stderr.write(`WARN ${LOG_PREFIX.trim()} ${line}\n`) })
  let resolved: ResolvedOptions
  try {
    resolved = run.resolveOptions(input.options, { mode: 'production', root: input.root })
  } catch (err) {
    return run.fail(ctx, err)
  }
  const manifest = resolved.build.manifest
  if (manifest !== false) {
    if (!input.clientDir) {
      throw new CdnPublishError(Codes.PUBLISH_FAILED, 'Nuxt: the client build never ran with the plugin (no `vite:extendConfig` for the client), so there is no manifest to publish.')
    }
    try {
      await writeOutputManifest({ ...input, clientDir: input.clientDir, manifest })
    } catch (err) {
      run.fail(ctx, err)
    }
  }
  if (input.servedByNitro) resolved = { ...resolved, build: { ...resolved.build, fingerprintPublic: false } }
  await run.publishAfterBuild(ctx, { options: resolved, vite: { logger: { info: (line) => process.stdout.write(`${line}\n`) } }, root: input.root, dir: input.publicDir })
}

/**
 * The client build's manifest, for `.output/public`: its paths are relative to the client output
 * directory, and Nitro serves `<buildAssetsDir>` of it at the same path, so the files it copied
 * keep their names; the rest (Vite's manifest, which Nuxt deletes) is left out. Its base is the
 * app's base URL, which the pages are served under. Files Nitro added are reconciled by the
 * deploy core.
 */
async function writeOutputManifest(input: OutputInput & { clientDir: string; manifest: string }): Promise<void> {
  const { releaseId, stringifySorted } = await import('./build/manifest.js')
  const from = path.join(input.clientDir, input.manifest)
  let text: string
  try {
    text = await readFile(from, 'utf8')
  } catch (err) {
    throw new CdnPublishError(Codes.PUBLISH_FAILED, `Nuxt: the client build wrote no manifest (${from}: ${(err as Error).message}). Rebuild.`, { file: from })
  }
  const client = JSON.parse(text) as import('./build/manifest-types.js').CdnManifest
  const served = servedDir(input.buildAssetsDir)
  const isServed = async (p: string) => (served === '' || p.startsWith(`${served}/`)) && ((await stat(path.join(input.publicDir, p)).catch(() => undefined))?.isFile() ?? false)
  const files: typeof client.files = {}
  for (const [p, f] of Object.entries(client.files)) if (await isServed(p)) files[p] = f
  const aliases = Object.fromEntries(Object.entries(client.aliases).filter(([, to]) => files[to]))
  const manifest = { ...client, base: input.baseURL, files, aliases, release: releaseId(files) }
  await writeFile(path.join(input.publicDir, input.manifest), stringifySorted(manifest))
}

