/**
 * The plugin: hook wiring only. The per-build state lives in build/context.ts, the stylesheet
 * transform in build/css-transform.ts, the work over the finished bundle in build/bundle-rewrite.ts,
 * and publishing in after-build.ts (which loads the deploy core on the first publish only).
 */
import type { OutputOptions } from './build/bundle-rewrite.js'
import type { BuildContext } from './build/context.js'
import { cssTransformFilter } from './build/filter.js'
import type { Bundle } from './build/outputs.js'
import type { Context, ViteConfigLike } from './build/types.js'
import type { Framework } from './frameworks/index.js'
import type { CdnPublishOptions } from './options/types.js'
import type { ResolvedOptions } from './options/resolve.js'

/** The plugin object: plain Rollup plugin API, usable in Vite 7, Vite 8 (Rolldown) and Rollup 4. */
export interface CdnPublishPlugin {
  name: 'cdn-publish'
  enforce: 'pre'
  // Hooks are typed loosely so the object fits Rollup's, Rolldown's and Vite's plugin types alike.
  configResolved: (...args: any[]) => void
  buildStart: (...args: any[]) => Promise<void>
  transform: { filter: { id: { include: RegExp; exclude: RegExp[] } }; handler: (...args: any[]) => any }
  renderChunk: (...args: any[]) => null
  generateBundle: { order: 'post'; handler: (...args: any[]) => Promise<void> }
  closeBundle: { order: 'post'; sequential: true; handler: (...args: any[]) => Promise<void> }
  buildApp: { order: 'post'; handler: (...args: any[]) => Promise<void> }
}

/** Create the plugin. */
export function cdnPublish(options: CdnPublishOptions = {}): CdnPublishPlugin {
  return createPlugin(options)
}

/**
 * The plugin, for a framework integration that describes its framework itself (the Nuxt module)
 * instead of leaving it to detection from the config's plugins.
 */
export function createPlugin(options: CdnPublishOptions, framework?: Framework): CdnPublishPlugin {
  let vite: ViteConfigLike | undefined
  /** Loaded by the first `buildStart`. */
  let run: typeof import('./runtime.js')
  let build: BuildContext
  /** Undefined until this build's options are valid, and in an environment left alone. */
  let resolved: ResolvedOptions | undefined
  /** An environment of the framework's own that this plugin leaves alone (frameworks/index.ts). */
  const foreign = (ctx: Context) => {
    const name = ctx.environment?.name
    return name !== undefined && (build?.framework?.foreignEnvironments?.includes(name) ?? false)
  }

  return {
    name: 'cdn-publish',
    enforce: 'pre',

    configResolved(config: ViteConfigLike) {
      vite = config
    },

    /**
     * Every option, publish and retention included (with `.env` files), is checked here: before
     * anything is written. The dev server loads nothing.
     */
    async buildStart(this: Context) {
      if (vite?.command === 'serve') return
      run ??= await import('./runtime.js')
      build ??= run.createBuildContext()
      if (vite) build.configure(vite, framework)
      build.written = undefined
      resolved = undefined
      if (foreign(this)) return
      try {
        const instead = vite && !framework ? run.integrationInstead(vite) : undefined
        if (instead) throw new run.CdnPublishError('INVALID_OPTION', instead)
        resolved = run.resolveOptions(options, vite)
      } catch (err) {
        run.fail(this, err)
      }
      build.start(resolved!.build)
      // a client build of an app (not a library, not SSR) has pages to rewrite
      if (vite && !vite.build.ssr && !vite.build.lib) run.preloadHtmlParser()
    },

    /**
     * Vite only: give public files referenced from stylesheets their hashed names before Vite
     * hashes the stylesheet, so Vite's own naming propagates the change (stylesheet → chunks →
     * HTML); lowercase `URL(` so Vite rewrites it like `url(`. A reference that names a file
     * outside the project (Vite's `server.fs.allow`), or only a query, is reported and hidden from
     * Vite behind a placeholder, restored as written in `generateBundle`: Vite would otherwise
     * inline or copy a file of the build machine (`url(/etc/passwd)`) into the published output.
     * Sass, Less and Stylus sources are left to their compilers (build/filter.ts); the output pass
     * rewrites what they compile to.
     */
    transform: {
      filter: cssTransformFilter,
      handler(this: Context, code: string, id: string) {
        if (vite?.command === 'serve' || foreign(this)) return null
        return run.transformCss(build, this, code, id)
      },
    },

    /**
     * Note the name of every entry chunk: Vite drops the chunk of a stylesheet entry from the
     * bundle before `generateBundle`, and the manifest's `entries` lists its stylesheet under it.
     */
    renderChunk(_code: string, chunk: { isEntry: boolean; facadeModuleId: string | null; name: string }) {
      if (build && chunk.isEntry && chunk.facadeModuleId) build.entryChunks.set(chunk.facadeModuleId, chunk.name)
      return null
    },

    generateBundle: {
      order: 'post',
      async handler(this: Context, outputOptions: OutputOptions, bundle: Bundle) {
        if (foreign(this)) return
        if (build.isSsr(this)) run.restoreKeptReferences(build, bundle)
        else await run.rewriteBundle(build, this, outputOptions, bundle)
      },
    },

    closeBundle: {
      order: 'post',
      sequential: true,
      async handler(this: Context, error?: Error) {
        // never after a failed build or in watch mode; a framework's server build may publish
        // what its client build handed over (frameworks/index.ts)
        if (!resolved || error || this.meta.watchMode) return
        await run.publishStep(this, build, build.isSsr(this), resolved)
      },
    },

    /**
     * Vite's app builder (this instance holds the top-level config; each environment's build
     * has its own). A framework that writes the last of its output in a `buildApp` hook of its
     * own (SvelteKit 3's adapter, frameworks/index.ts) publishes right after that hook: what
     * the server build's `closeBundle` does for the others.
     */
    buildApp: {
      order: 'post',
      async handler(this: { info(message: string): void; warn(message: string): void }, builder: { config: { plugins: readonly unknown[] } }) {
        if (!vite) return
        run ??= await import('./runtime.js')
        const known = framework ?? run.detectFramework(vite)
        const last = known?.finishedInBuildApp
        if (!last) return
        // this hook's context prints an error it is given as a bare object: throw coded errors instead
        const ctx = run.loggerContext({ info: (line) => this.info(line), warn: (line) => this.warn(line) })
        let opts: ResolvedOptions
        try {
          opts = run.resolveOptions(options, vite)
        } catch (err) {
          run.fail(ctx, err)
        }
        const top = { vite, framework: known, written: undefined }
        run.afterBuildAppOf(builder.config.plugins, last, () => run.publishStep(ctx, top, true, opts))
      },
    },
  }
}
