import { describe, expect, test } from "bun:test";
import { CommandSyntaxError, commandWords, shellTokens, splitCommand } from "./_argv.ts";

describe("splitCommand (no shell)", () => {
  test.each([
    ["ls -la  /var/log", ["ls", "-la", "/var/log"]],
    [`grep -r 'a b' "c d" e\\ f`, ["grep", "-r", "a b", "c d", "e f"]],
    [`printf "say \\"hi\\" \\\\ \\$x"`, ["printf", 'say "hi" \\ $x']],
    [`echo 'it''s' x"y"z`, ["echo", "its", "xyz"]],
    [`echo '$HOME | *' ""`, ["echo", "$HOME | *", ""]],
    [`a=b cmd --opt=1`, ["a=b", "cmd", "--opt=1"]],
  ])("%s", (command, argv) => {
    expect(splitCommand(command)).toEqual(argv);
  });

  test.each([
    "ls | grep x",
    "ls; rm x",
    "ls && rm x",
    "ls > out",
    "cat < in",
    "echo $HOME",
    'echo "$HOME"',
    "echo `id`",
    "ls *.log",
    "ls file?",
    "ls [ab]",
    "echo (x)",
    "ls\nrm x",
    "echo ~/x",
    "echo #comment",
    "echo 'unclosed",
    'echo "unclosed',
    "echo trailing\\",
    "   ",
  ])("refuses %j", (command) => {
    expect(() => splitCommand(command)).toThrow(CommandSyntaxError);
  });
});

describe("shellTokens / commandWords (shell mode checks)", () => {
  test.each([
    ["ps aux | grep nginx", ["ps", "grep"]],
    ["a && b || c; d & e", ["a", "b", "c", "d", "e"]],
    ["a\nb", ["a", "b"]],
    ["(a; b) | c", ["a", "b", "c"]],
    ["cmd 2>&1 | tail -n 5", ["cmd", "tail"]],
    ["cmd >| out", ["cmd"]],
    [`echo "a | b; c"`, ["echo"]],
    ["echo $HOME", ["echo"]],
    ["FOO=1 cmd", ["FOO=1"]],
  ])("%j", (command, words) => {
    expect(commandWords(shellTokens(command))).toEqual(words);
  });

  test.each(["echo $(rm -rf /)", 'echo "$(id)"', "echo `id`", 'echo "`id`"', "echo $((1+2))"])("refuses command substitution %j", (command) => {
    expect(() => shellTokens(command)).toThrow(/command substitution/);
  });
});
