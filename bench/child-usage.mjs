// Preloaded (`node --import`) into every Node child of bench/publish.mjs: when the process exits
// it reports its peak resident set size to the parent, on stderr, as one marked JSON line.
// On Linux this is VmHWM of /proc/self/status: process.resourceUsage().maxRSS also counts the
// pages of the parent the child was forked from (the kernel keeps that peak across exec), so a
// child of a bench holding 400 MB of build would report 400 MB.
import { readFileSync } from 'node:fs'

process.on('exit', () => {
  let kb = process.resourceUsage().maxRSS
  try {
    kb = Number(/^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? kb)
  } catch {}
  process.stderr.write(`\nCDN_BENCH_USAGE ${JSON.stringify({ maxRssKb: kb })}\n`)
})
