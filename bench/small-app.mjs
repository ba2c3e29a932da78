// Whole-process cost of the plugin on a small app: `vite build` started as its own Node process,
// as a developer or CI runs it, with a config that adds `cdnPublish()` and one that does not,
// alternately. Build the plugin first: npm run build
//
//   node bench/small-app.mjs [--rounds N] [--vite 8|7] [--out-dir DIR] [--plugin DIR]
//
// The app is test/fixtures/basic copied to bench/.tmp/small-app/app (index.html, a few modules, a
// lazy chunk, two stylesheets with url()s to bundled and public images, four public files), with
// the compiled plugin copied to its node_modules/vite-plugin-cdn-publish as an install would. Each
// round spawns `node <vite>/bin/vite.js build` once with each config file (publishing off: no
// CDN_PUBLISH_* variables); round 1 warms the file cache and is discarded. Prints every round, the
// medians and the median of the per-round ratios with/without against the target (≤ 1.10).
// CDN_BENCH_CPU_PROF=<dir> writes a CPU profile of every build process into <dir>.
// --plugin DIR measures the compiled plugin in DIR instead of dist/ (an earlier build, to compare).
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const TARGET = 1.1
const USAGE = 'usage: node bench/small-app.mjs [--rounds N] [--vite 8|7] [--out-dir DIR] [--plugin DIR]'

function parseArgs(argv) {
  const args = { rounds: 15, vite: '8', outDir: undefined, plugin: join(root, 'dist') }
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2)
    const value = () => inline ?? argv[++i]
    if (flag === '--rounds') args.rounds = Number(value())
    else if (flag === '--vite') args.vite = String(value())
    else if (flag === '--out-dir') args.outDir = resolve(String(value()))
    else if (flag === '--plugin') args.plugin = resolve(String(value()))
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE)
      process.exit(0)
    } else {
      console.error(`unknown argument ${argv[i]}\n${USAGE}`)
      process.exit(1)
    }
  }
  if (!Number.isInteger(args.rounds) || args.rounds < 2) {
    console.error('--rounds must be an integer ≥ 2 (the first round is a warm-up)')
    process.exit(1)
  }
  if (args.vite !== '8' && args.vite !== '7') {
    console.error('--vite must be 8 or 7')
    process.exit(1)
  }
  return args
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Run one build process; resolves to its wall time in ms (spawn to exit). */
function runBuild(viteBin, app, config, outDir, env, profDir) {
  const nodeArgs = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []
  return new Promise((resolveRun, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, [...nodeArgs, viteBin, 'build', '--config', config, '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'], {
      cwd: app,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('exit', (code) => {
      const ms = performance.now() - start
      if (code !== 0) reject(new Error(`vite build (${relative(app, config)}) exited ${code}\n${stderr}`))
      else resolveRun(ms)
    })
  })
}

async function main() {
  const args = parseArgs(process.argv.slice(2))
  const pluginPath = join(args.plugin, 'index.js')
  if (!existsSync(pluginPath)) {
    console.error(`missing ${relative(root, pluginPath)}: run \`npm run build\` first`)
    process.exit(1)
  }
  const viteDir = join(root, 'node_modules', args.vite === '7' ? 'vite7' : 'vite')
  const viteBin = join(viteDir, 'bin/vite.js')
  const viteVersion = JSON.parse(readFileSync(join(viteDir, 'package.json'), 'utf8')).version

  // Never publish from a benchmark, whatever the environment says.
  const env = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith('CDN_PUBLISH_')) delete env[name]

  const work = join(root, 'bench/.tmp/small-app')
  const app = join(work, 'app')
  rmSync(app, { recursive: true, force: true })
  cpSync(join(root, 'test/fixtures/basic'), app, { recursive: true })
  const configs = { with: join(app, 'vite.with.config.mjs'), without: join(app, 'vite.without.config.mjs') }
  // The plugin installed as a package, as a project has it: Vite leaves what the config imports
  // from node_modules to Node instead of bundling it into the config.
  const installed = join(app, 'node_modules/vite-plugin-cdn-publish')
  cpSync(args.plugin, join(installed, 'dist'), { recursive: true })
  cpSync(join(root, 'package.json'), join(installed, 'package.json'))
  writeFileSync(configs.with, "import cdnPublish from 'vite-plugin-cdn-publish'\nexport default { plugins: [cdnPublish()] }\n")
  writeFileSync(configs.without, 'export default { plugins: [] }\n')

  const outBase = args.outDir ?? work
  const outDirs = { with: join(outBase, 'out-with'), without: join(outBase, 'out-without') }
  const profDir = process.env.CDN_BENCH_CPU_PROF ? resolve(process.env.CDN_BENCH_CPU_PROF) : undefined
  if (profDir) mkdirSync(profDir, { recursive: true })
  const shown = relative(root, outBase)
  console.log(`app: test/fixtures/basic in ${relative(root, app)}; vite ${viteVersion}, node ${process.version}, plugin ${relative(root, args.plugin) || '.'}`)
  console.log(`${args.rounds} rounds (round 1 is a warm-up and is discarded); output: ${shown.startsWith('..') ? outBase : shown}/out-{with,without}\n`)

  const rows = []
  for (let r = 1; r <= args.rounds; r++) {
    const w = await runBuild(viteBin, app, configs.with, outDirs.with, env, profDir && join(profDir, 'with'))
    const wo = await runBuild(viteBin, app, configs.without, outDirs.without, env, profDir && join(profDir, 'without'))
    const row = { withMs: w, withoutMs: wo, ratio: w / wo }
    if (r > 1) rows.push(row)
    console.log(
      `round ${String(r).padStart(2)}${r === 1 ? ' (warm-up)' : '          '}  with ${w.toFixed(0).padStart(5)} ms  without ${wo.toFixed(0).padStart(5)} ms  ratio ${row.ratio.toFixed(3)}`,
    )
  }

  const medRatio = median(rows.map((r) => r.ratio))
  console.log(
    `\nmedian      with ${median(rows.map((r) => r.withMs)).toFixed(0).padStart(5)} ms  without ${median(rows.map((r) => r.withoutMs)).toFixed(0).padStart(5)} ms  (${rows.length} rounds)`,
  )
  console.log(`median of per-round ratios with/without: ${medRatio.toFixed(3)} (${((medRatio - 1) * 100).toFixed(1)} %)`)
  console.log(`target ≤ ${TARGET.toFixed(2)}: ${medRatio <= TARGET ? 'PASS' : 'FAIL'}`)

  const manifest = JSON.parse(readFileSync(join(outDirs.with, 'cdn-manifest.json'), 'utf8'))
  console.log(
    `\nthe plugin's output: cdn-manifest.json lists ${Object.keys(manifest.files).length} files; public files fingerprinted (aliases): ${Object.keys(manifest.aliases).join(', ') || 'none'}`,
  )
}

await main()
