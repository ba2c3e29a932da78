import { defineConfig } from 'vite'
import RubyPlugin from 'vite-plugin-ruby'
import cdnPublish from '../../dist/index.js'

export default defineConfig({
  plugins: [RubyPlugin(), cdnPublish()],
})
