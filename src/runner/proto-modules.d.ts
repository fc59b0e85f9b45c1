// `import source from "./runner.proto" with { type: "text" }` embeds the file in the executable.
declare module "*.proto" {
  const text: string;
  export default text;
}
