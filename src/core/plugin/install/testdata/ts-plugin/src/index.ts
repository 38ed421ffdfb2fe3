import { shout } from "tiny-pkg";

export function greet(name: string): string {
  return shout(`hello ${name}`);
}
