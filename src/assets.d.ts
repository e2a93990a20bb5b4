// Files imported `with { type: 'text' }` so that `bun build --compile` embeds them.
declare module '*.sql' {
  const text: string
  export default text
}
