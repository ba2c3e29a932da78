/**
 * Which modules the stylesheet transform sees, as a filter the bundler evaluates itself (no call
 * into the plugin for the thousands of scripts). Kept apart, with no imports, because the plugin
 * object needs it before the build machinery is loaded.
 */

/** Stylesheet languages, by the module id's extension. */
export const CSS_LANG_RE = /\.(?:css|less|sass|scss|styl|stylus|pcss|postcss|sss)(?:$|\?)/
/**
 * Stylesheets written in CSS syntax (PostCSS's extensions included), the ones the transform
 * reads. Sass, Less, Stylus and SugarSS sources are left to their compilers: their comments,
 * variables and interpolation are not CSS, and a token written into them could be read as a
 * variable (`$`). What they compile to is rewritten in the output pass instead.
 */
export const CSS_SYNTAX_RE = /\.(?:css|pcss|postcss)(?:$|\?)/
/** `?raw` and `?url` imports: the file's bytes or URL, not a stylesheet to rewrite. */
export const SKIP_QUERY_RE = /[?&](?:raw|url)\b/

export const cssTransformFilter = { id: { include: CSS_SYNTAX_RE, exclude: [/^\0/, SKIP_QUERY_RE] } }
