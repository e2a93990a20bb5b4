// Browser files imported `with { type: 'file' }` so that `bun build --compile` embeds them: the
// import is the file's path (inside the executable once compiled).
declare module 'htmx.org/dist/htmx.min.js' {
  const path: string
  export default path
}
declare module 'uplot/dist/uPlot.iife.min.js' {
  const path: string
  export default path
}
declare module 'uplot/dist/uPlot.min.css' {
  const path: string
  export default path
}
declare module '*/portal.css' {
  const path: string
  export default path
}
