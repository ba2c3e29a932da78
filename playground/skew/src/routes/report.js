import './report.css'

export const VERSION = 'release one'

export function show(el) {
  el.innerHTML = `<div id="report" class="report"><span class="report-image"></span><p>Report: ${VERSION}</p></div>`
}
