// Preloaded (`node --import`) into every Node child of bench/publish.mjs: when the process exits
// it reports its peak resident set size to the parent, on stderr, as one marked JSON line.
process.on('exit', () => {
  process.stderr.write(`\nCDN_BENCH_USAGE ${JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS })}\n`)
})
