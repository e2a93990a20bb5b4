// Files imported `with { type: 'text' }` so that `bun build --compile` embeds them.
declare module '*.sql' {
  const text: string
  export default text
}
// Imported `with { type: 'file' }`: the embedded file's path.
declare module 'swagger-ui-dist/swagger-ui.css' {
  const path: string
  export default path
}
declare module 'swagger-ui-dist/swagger-ui-bundle.js' {
  const path: string
  export default path
}
