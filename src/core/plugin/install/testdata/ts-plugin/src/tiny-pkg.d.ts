// tiny-pkg ships no types; this keeps `tsc --noEmit` of the repository happy.
declare module "tiny-pkg" {
  export function shout(text: string): string;
}
