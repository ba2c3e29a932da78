import type { Config } from '@react-router/dev/config'

export default {
  ssr: true,
  // two server bundles: the lazy route's and the rest
  serverBundles: ({ branch }) => (branch.some((route) => route.id === 'routes/lazy') ? 'lazy' : 'main'),
} satisfies Config
