// Build time of each framework starter in playground/, with the plugin (no bucket: the build
// work alone) against without it, as whole build commands, alternately, in the same run.
// Install the starters first (the test setup does: npm test, or `npm ci` in each), and build
// the plugin: npm run build
//
//   node bench/starters.mjs [--rounds N] [app ...]
//
// Each app is copied once to bench/.tmp/<app>-{with,without} (node_modules linked to the
// starter's), the `without` copy's config (Vite's, Astro's, Nuxt's) with the plugin taken out. Round 1 is a warm-up.
// Prints each round, the medians and the ratio with/without per app.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const APPS = {
  'sveltekit-static': { config: 'vite.config.js', outputs: ['build', '.svelte-kit'] },
  'sveltekit-node': { config: 'vite.config.js', outputs: ['build', '.svelte-kit'] },
  'react-router-ssr': { config: 'vite.config.ts', outputs: ['build', '.react-router'] },
  'react-router-spa': { config: 'vite.config.ts', outputs: ['build', '.react-router'] },
  'react-router-bundles': { config: 'vite.config.ts', outputs: ['build', '.react-router'] },
  // the latest majors, on the Node 22 each of these apps pins (its node_modules/.bin/node)
  'sveltekit3-node': { config: 'vite.config.js', outputs: ['build', '.svelte-kit'] },
  'react-router8-ssr': { config: 'vite.config.ts', outputs: ['build', '.react-router'] },
  'astro6-static': { config: 'astro.config.mjs', outputs: ['dist', '.astro'] },
  'astro6-node': { config: 'astro.config.mjs', outputs: ['dist', '.astro'] },
  laravel: { config: 'vite.config.js', outputs: ['public/build'] },
  rails: { config: 'vite.config.ts', outputs: ['public/vite'] },
  'astro-static': { config: 'astro.config.mjs', outputs: ['dist', '.astro'] },
  'astro-node': { config: 'astro.config.mjs', outputs: ['dist', '.astro'] },
  nuxt: { config: 'nuxt.config.ts', outputs: ['.output', '.nuxt'], strip: (t) => t.replace("'vite-plugin-cdn-publish/nuxt'", '') },
  'nuxt-latest': { config: 'nuxt.config.ts', outputs: ['.output', '.nuxt'], strip: (t) => t.replace("'vite-plugin-cdn-publish/nuxt'", '') },
  'nuxt-generate': { config: 'nuxt.config.ts', outputs: ['.output', '.nuxt', 'dist'], strip: (t) => t.replace("'vite-plugin-cdn-publish/nuxt'", '') },
}
/** The Vite config without the plugin. */
const stripPlugin = (t) => t.replace(/^import cdnPublish .*\n/m, '').replace(/,?\s*cdnPublish\(\)/, '')
// (Astro's integration list is stripped the same way)

const args = process.argv.slice(2)
const r = args.indexOf('--rounds')
const rounds = r >= 0 ? Number(args.splice(r, 2)[1]) : 4
const apps = args.length ? args : Object.keys(APPS)
if (!Number.isInteger(rounds) || rounds < 2 || apps.some((a) => !APPS[a])) {
  console.error(`usage: node bench/starters.mjs [--rounds N] [${Object.keys(APPS).join(' | ')} ...] (N >= 2)`)
  process.exit(2)
}
if (!existsSync(join(root, 'dist/index.js'))) {
  console.error('missing dist/index.js: run `npm run build` first')
  process.exit(1)
}

/** A copy of the starter whose node_modules links to the installed one; `plugin: false` takes the plugin out of its config. */
function copy(app, plugin) {
  const src = join(root, 'playground', app)
  if (!existsSync(join(src, 'node_modules'))) {
    console.error(`playground/${app} is not installed: run npm ci there (or npm test)`)
    process.exit(1)
  }
  const dir = join(root, 'bench/.tmp', `${app}-${plugin ? 'with' : 'without'}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  cpSync(src, dir, { recursive: true, filter: (p) => p === src || !/[/\\](node_modules|build|dist|\.astro|\.svelte-kit|\.react-router|\.output|\.nuxt)$/.test(p) })
  mkdirSync(join(dir, 'node_modules'))
  for (const e of readdirSync(join(src, 'node_modules'))) if (e !== '.cache') symlinkSync(join(src, 'node_modules', e), join(dir, 'node_modules', e))
  const config = join(dir, APPS[app].config)
  let text = readFileSync(config, 'utf8').replace('../../dist/index.js', join(root, 'dist/index.js'))
  if (!plugin) text = (APPS[app].strip ?? stripPlugin)(text)
  writeFileSync(config, text)
  return dir
}

function buildMs(app, dir) {
  for (const o of APPS[app].outputs) rmSync(join(dir, o), { recursive: true, force: true })
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CDN_PUBLISH_') && !k.startsWith('AWS_')))
  const t = performance.now()
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: dir, env, encoding: 'utf8' })
  if (r.status !== 0) {
    console.error(`${app}: the build failed in ${dir}\n${r.stdout}\n${r.stderr}`)
    process.exit(1)
  }
  return performance.now() - t
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const summary = []
for (const app of apps) {
  const withDir = copy(app, true)
  const withoutDir = copy(app, false)
  const a = []
  const b = []
  for (let i = 1; i <= rounds; i++) {
    const w = buildMs(app, withDir)
    const wo = buildMs(app, withoutDir)
    console.log(`${app} round ${i}${i === 1 ? ' (warm-up)' : ''}: with ${(w / 1000).toFixed(2)} s, without ${(wo / 1000).toFixed(2)} s`)
    if (i > 1) {
      a.push(w)
      b.push(wo)
    }
  }
  summary.push(`${app}: with ${(median(a) / 1000).toFixed(2)} s, without ${(median(b) / 1000).toFixed(2)} s, ratio ${(median(a) / median(b)).toFixed(2)}×`)
}
rmSync(join(root, 'bench/.tmp'), { recursive: true, force: true })
console.log(summary.join('\n'))
