/**
 * A command string split into words the way sh would split it, without running a shell. Quotes and
 * backslashes work as in sh; anything that only a shell would give meaning to (pipes, redirections,
 * `$`, globs, …) is refused rather than passed on as a literal argument that does not do what it
 * looks like. With `operators`, the separators of a shell command line come back as their own
 * tokens, so shell mode can check every command of a pipeline or list.
 */

export type Token = { word: string } | { operator: string };

/** Refused outside quotes when no shell runs the command: a shell would have acted on them. */
const NEEDS_SHELL = new Set(["|", "&", ";", "<", ">", "(", ")", "$", "`", "*", "?", "[", "\n"]);
/** What separates one command from the next in a shell command line (longest first). */
const OPERATORS = ["&&", "||", ";;", "|", "&", ";", "(", ")", "\n"];

export class CommandSyntaxError extends Error {
  override name = "CommandSyntaxError";
}

/** `ls -la '/var/log'` → ["ls", "-la", "/var/log"]. Throws CommandSyntaxError. */
export function splitCommand(command: string): string[] {
  return tokenize(command, false).map((token) => ("word" in token ? token.word : ""));
}

/**
 * Words and operators of a shell command line, for checking only (the shell does the real parse).
 * Command substitution is refused: it would hide a command from the check.
 */
export function shellTokens(command: string): Token[] {
  return tokenize(command, true);
}

function tokenize(command: string, operators: boolean): Token[] {
  const tokens: Token[] = [];
  let word: string | undefined;
  let i = 0;
  const push = () => {
    if (word !== undefined) tokens.push({ word });
    word = undefined;
  };
  const fail = (what: string): never => {
    throw new CommandSyntaxError(`${what} at character ${i + 1}`);
  };
  while (i < command.length) {
    const c = command[i] as string;
    if (c === " " || c === "\t") {
      push();
      i++;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) fail("unterminated single quote");
      word = (word ?? "") + command.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      let text = "";
      i++;
      for (;;) {
        if (i >= command.length) fail("unterminated double quote");
        const d = command[i] as string;
        if (d === '"') break;
        if (d === "`" || (d === "$" && (!operators || command[i + 1] === "("))) fail(substitution(d, operators));
        if (d === "\\" && i + 1 < command.length && '$`"\\\n'.includes(command[i + 1] as string)) {
          if (command[i + 1] !== "\n") text += command[i + 1];
          i += 2;
          continue;
        }
        text += d;
        i++;
      }
      word = (word ?? "") + text;
      i++;
    } else if (c === "\\") {
      if (i + 1 >= command.length) fail("a backslash at the end");
      if (command[i + 1] !== "\n") word = (word ?? "") + command[i + 1];
      i += 2;
    } else if (operators && (c === "`" || (c === "$" && command[i + 1] === "("))) {
      fail(substitution(c, true));
    } else if (operators && !redirection(command, i) && OPERATORS.some((op) => command.startsWith(op, i))) {
      const op = OPERATORS.find((candidate) => command.startsWith(candidate, i)) as string;
      push();
      tokens.push({ operator: op });
      i += op.length;
    } else if (!operators && NEEDS_SHELL.has(c)) {
      fail(`${JSON.stringify(c)} needs a shell (pass the command as a list of arguments, or set shell: true in the agent's local config)`);
    } else if (!operators && c === "#" && word === undefined) {
      fail(`"#" starting a word is a comment to a shell; quote it`);
    } else if (!operators && c === "~" && word === undefined) {
      fail(`"~" starting a word needs a shell to expand it; write the path out`);
    } else {
      word = (word ?? "") + c;
      i++;
    }
  }
  push();
  if (!tokens.some((token) => "word" in token)) throw new CommandSyntaxError("no command");
  return tokens;
}

/** `2>&1`, `<&3`, `>|`: an `&` or `|` that belongs to a redirection, not a separator. */
function redirection(command: string, i: number): boolean {
  return (command[i] === "&" || command[i] === "|") && (command[i - 1] === ">" || command[i - 1] === "<");
}

function substitution(c: string, shell: boolean): string {
  const what = c === "`" ? "command substitution (`…`)" : shell ? "command substitution ($(…))" : '"$" (variable expansion)';
  return shell ? `${what} is refused: it would hide a command from the allowed_commands check` : `${what} needs a shell`;
}

/** The words at command position: the first word, and the first after each operator. */
export function commandWords(tokens: Token[]): string[] {
  const out: string[] = [];
  let atStart = true;
  for (const token of tokens) {
    if ("operator" in token) {
      atStart = true;
    } else if (atStart) {
      out.push(token.word);
      atStart = false;
    }
  }
  return out;
}
