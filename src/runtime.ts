/**
 * The plugin's machinery, loaded when a build starts (`buildStart`), not when a `vite.config`
 * imports the plugin: a dev server, a config load and a test runner pay only for the plugin object.
 * The deploy core, and the AWS SDK behind it, load later still, on the first publish.
 */
export { afterBuildAppOf, chosenDir, fail, loggerContext, projectRoot, publishAfterBuild, publishStep } from './after-build.js'
export { preloadHtmlParser, rewriteBundle, rewriteStylesheetAssets } from './build/bundle-rewrite.js'
export { createBuildContext } from './build/context.js'
export { restoreKeptReferences, transformCss } from './build/css-transform.js'
export { resolveOptions } from './options/resolve.js'
export { detectFramework, integrationInstead } from './frameworks/index.js'
export { CdnPublishError } from './errors.js'
