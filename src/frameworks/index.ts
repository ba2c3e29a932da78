/**
 * The frameworks this plugin recognises from the Vite plugins they bring, and what each changes:
 *
 * - **when** the release is published: plain Vite, Laravel and Rails write everything a CDN
 *   origin serves in the client build, so the client build publishes. SvelteKit and React Router
 *   write part of it later (prerendered pages, the adapter's copy, the route manifest, the SPA
 *   `index.html`), in the server build of the same command; there the client build only hands
 *   its output over (./handoff.ts) and the server build publishes, after the framework's own
 *   `closeBundle` (this plugin's is `sequential` and `order: 'post'`).
 * - **what** is published: the directory the framework finally deploys (`finalDir`).
 * - **where public files are**: Laravel and vite_ruby turn Vite's `publicDir` off because the
 *   web root is the public directory; a stylesheet's `url(/img/x.png)` then names a file there.
 * - which fixed-name files it writes on purpose (polled or read by its server): no
 *   `UNHASHED_OUTPUT` for them.
 * - Nuxt is not recognised from its plugins: its module (../nuxt.ts) adds this plugin to Nuxt's
 *   client build with the description from ./nuxt.ts, and publishes from a Nitro hook itself.
 *
 * Nothing here sets a Vite option: SvelteKit enforces several, and the others' own defaults hold.
 */
import path from 'node:path'
import { adapterOutput } from './sveltekit.js'

export interface Framework {
  /** As the log lines name it. */
  name: 'SvelteKit' | 'React Router' | 'Laravel' | 'Rails (vite_ruby)' | 'Nuxt'
  /**
   * `server`: the client build hands its output to the server build of the same command, which
   * publishes. `framework`: no Vite build publishes; the framework's integration does, once the
   * framework has assembled its output (Nuxt: Nitro's `compiled` hook).
   */
  publishIn: 'client' | 'server' | 'framework'
  /** The directory a CDN origin serves, once the whole build is done. */
  finalDir(input: { clientOutDir: string; root: string; manifest: string; manifestText: string }): Promise<string>
  /** The web root: where root URLs in stylesheets find public files, besides Vite's `publicDir`. */
  webRoots?(config: { root: string; build: { outDir: string } }): string[]
  /** Output files the framework names without a hash on purpose. */
  unhashedOnPurpose?(fileName: string): boolean
  /**
   * The output directory (POSIX, relative to Vite's `outDir`) the fingerprinted copies of public
   * files go in, when only part of the output is served (Nuxt serves `_nuxt/` of its client
   * build, under its asset base); default: the output's root, beside the other public files.
   */
  copiesDir?: string
  /**
   * The framework's plugin whose `buildApp` hook writes the last of the output, when the
   * framework builds through Vite's app builder (SvelteKit 3: its adapter), and `closeBundle`
   * of the server build comes too early. The server-build publish then runs right after it.
   */
  finishedInBuildApp?: string
  /**
   * Vite environments of the framework's own that this plugin leaves alone: no transform, no
   * rewrite, no hand-over (SvelteKit 3 builds its service worker as an environment of the app
   * builder, with the user's plugins, where SvelteKit 2 built it without them).
   */
  foreignEnvironments?: string[]
  /** How many server builds one command runs (default 1); the last to finish publishes. */
  serverBuilds?(config: object): number
}

const clientOutput = async ({ clientOutDir }: { clientOutDir: string }) => clientOutDir

const FRAMEWORKS: { plugin: RegExp; framework: Framework }[] = [
  {
    plugin: /^vite-plugin-sveltekit-/,
    framework: {
      name: 'SvelteKit',
      publishIn: 'server',
      finalDir: adapterOutput,
      // polled by the client at `${paths.assets}/_app/version.json`
      unhashedOnPurpose: (f) => f === '_app/version.json',
      // SvelteKit 2 builds the client inside the server build's `writeBundle` and adapts in that
      // build's sequential `closeBundle`: the server build's `closeBundle` of this plugin (after
      // SvelteKit's) publishes. SvelteKit 3 builds the environments in its `buildApp` hook (server,
      // client, prerender), then adapts in the `buildApp` hook (`order: 'post'`) of this plugin:
      // the server build's `closeBundle` ran before the client was built, and ours, though
      // `order: 'post'` too, runs before it (Vite sorts a hook's `post` handlers by plugin
      // position, and this plugin is `enforce: 'pre'`). So the publish follows that hook.
      finishedInBuildApp: 'vite-plugin-sveltekit-adapter',
      // its fixed-name `service-worker.js`, built into the client output after the client build
      foreignEnvironments: ['serviceWorker'],
    },
  },
  {
    plugin: /^react-router$/,
    framework: {
      name: 'React Router',
      publishIn: 'server',
      finalDir: clientOutput,
      // `serverBundles` builds one server bundle per group (in parallel, 7 and 8 alike); the
      // plugin's resolved config names them in `__reactRouterPluginContext.buildManifest`
      serverBuilds: (config) => {
        const bundles = (config as { __reactRouterPluginContext?: { buildManifest?: { serverBundles?: object } | null } }).__reactRouterPluginContext?.buildManifest?.serverBundles
        return bundles ? Math.max(1, Object.keys(bundles).length) : 1
      },
    },
  },
  {
    plugin: /^laravel$/,
    framework: {
      name: 'Laravel',
      publishIn: 'client',
      finalDir: clientOutput,
      // Vite's root is the Laravel root; `public/` is served as is
      webRoots: ({ root }) => [path.join(root, 'public')],
      // read by Laravel's Vite helper from disk
      unhashedOnPurpose: (f) => f === 'manifest.json',
    },
  },
  {
    plugin: /^vite-plugin-ruby$/,
    framework: {
      name: 'Rails (vite_ruby)',
      publishIn: 'client',
      finalDir: clientOutput,
      // Vite's root is the source directory (app/frontend); Rails serves public/, where
      // vite_ruby writes its output (public/vite)
      webRoots: ({ root, build }) => [path.dirname(path.resolve(root, build.outDir))],
    },
  },
]

/**
 * Frameworks whose own integration publishes, recognised from their Vite plugins: there this
 * Vite plugin would publish one Vite build's output before the framework wrote its pages
 * (Astro) or assembled `.output/public` (Nuxt), an incomplete release.
 */
const INTEGRATIONS: { plugin: RegExp; name: string; use: string }[] = [
  {
    plugin: /^astro:/,
    name: 'Astro',
    use: "use the integration instead: `import cdnPublish from 'vite-plugin-cdn-publish/astro'` and `integrations: [cdnPublish(options)]` in astro.config",
  },
  {
    plugin: /^nuxt:/,
    name: 'Nuxt',
    use: "use the module instead: `modules: ['vite-plugin-cdn-publish/nuxt']` in nuxt.config, with the options under its `cdnPublish` key",
  },
]

/**
 * Why the Vite plugin must not run in this config, when it is a framework's whose integration
 * publishes (the plugin was put in Astro's or Nuxt's `vite.plugins`), with the fix.
 */
export function integrationInstead(config: { plugins?: readonly ({ name?: string } | null | undefined | false)[] }): string | undefined {
  const names = (config.plugins ?? []).map((p) => (p && p.name) || '')
  const found = INTEGRATIONS.find((i) => names.some((n) => i.plugin.test(n)))
  if (!found) return undefined
  return `cdnPublish() from 'vite-plugin-cdn-publish' is one of ${found.name}'s Vite plugins: it would publish a Vite build's output before ${found.name} writes the rest of what it deploys, an incomplete release. ${found.use[0]!.toUpperCase()}${found.use.slice(1)}.`
}

/** The framework whose plugin the resolved config holds, if any. */
export function detectFramework(config: { plugins?: readonly ({ name?: string } | null | undefined | false)[] }): Framework | undefined {
  const names = (config.plugins ?? []).map((p) => (p && p.name) || '')
  return FRAMEWORKS.find((f) => names.some((n) => f.plugin.test(n)))?.framework
}
