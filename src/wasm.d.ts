// wrangler's CompiledWasm rule turns `import x from '*.wasm'` into a precompiled WebAssembly.Module.
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
// wrangler's Data rule (see wrangler.toml) turns the model file into its bytes.
declare module '*.onnx' {
  const bytes: ArrayBuffer;
  export default bytes;
}
// wrangler's Text rule (see wrangler.toml) turns the page into a string.
declare module '*.html' {
  const text: string;
  export default text;
}
