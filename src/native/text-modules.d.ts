// `import source from "./helper.c" with { type: "text" }` embeds the file.
declare module "*.c" {
  const text: string;
  export default text;
}
declare module "*.h" {
  const text: string;
  export default text;
}
declare module "*.proto" {
  const text: string;
  export default text;
}
