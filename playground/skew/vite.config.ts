import { defineConfig } from 'vite'
import cdnPublish from '../../src/index.ts'

export default defineConfig({
  plugins: [cdnPublish()],
})
