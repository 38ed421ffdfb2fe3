/**
 * The agent's local configuration (`plugins.config.shell-command`), the only source of the bounds:
 * which commands, which working directories, shell or not, which environment names. plugin.yaml
 * declares the same fields with the same defaults (the host validates against it first; a test
 * checks the two agree); this schema adds what a manifest field cannot say.
 */
import { isAbsolute } from "node:path";
import * as v from "valibot";

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const names = (what: string) => v.array(v.pipe(v.string(), v.minLength(1, `expected ${what}`)));
const absolute = v.pipe(v.string(), v.check(isAbsolute, "expected an absolute path"));

export const DEFAULT_BLOCKED = ["rm", "rmdir", "dd", "mkfs", "fdisk", "format", "shutdown", "reboot", "halt", "poweroff"];

export const ConfigSchema = v.pipe(
  v.object({
    /** Executables an instruction may run: names looked up on the agent's PATH, or absolute paths. Empty: none. */
    allowed_commands: v.optional(names("a command name or path"), []),
    /** Never run, even when allowed; matched by name, by path, and by the name of the resolved file. */
    blocked_commands: v.optional(names("a command name or path"), () => [...DEFAULT_BLOCKED]),
    /** Directories (and everything below them) a command may run in; the plugin's work dir always may. */
    allowed_paths: v.optional(v.array(absolute), []),
    /** Working directory when the instruction names none; "" means the plugin's work dir. */
    working_dir: v.optional(v.union([v.literal(""), absolute]), ""),
    /** Run a string command with `shell_path -c`; only the local config can turn this on. */
    shell: v.optional(v.boolean(), false),
    /** The shell of shell mode, a name on PATH or an absolute path. */
    shell_path: v.optional(v.pipe(v.string(), v.minLength(1)), "sh"),
    /** Environment every command gets (on top of a scrubbed base); may set PATH, LANG, HOME. */
    env: v.optional(v.record(v.pipe(v.string(), v.regex(ENV_NAME, "expected an environment variable name")), v.string()), {}),
    /** Names an instruction's env_vars may set. Empty: any name but the protected ones (PATH, LD_*, …). */
    allowed_env_vars: v.optional(v.array(v.pipe(v.string(), v.regex(ENV_NAME, "expected an environment variable name"))), []),
    /** Seconds a command may run when the instruction gives no timeout. */
    timeout: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 60),
    /** The longest timeout an instruction may ask for, seconds. */
    max_timeout: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 3600),
    /** Bytes kept of stdout and of stderr each; the rest is dropped and the result marked truncated. */
    max_output_size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024)), 1_048_576),
    /** Largest `input` (stdin) an instruction may send, bytes. */
    max_input_size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 1_048_576),
    /** Exit codes that count as success; any other is a failed result (with the output). */
    success_exit_codes: v.optional(v.pipe(v.array(v.pipe(v.number(), v.integer())), v.minLength(1, "expected at least one exit code")), [0]),
  }),
  v.check((config) => config.timeout <= config.max_timeout, "timeout is longer than max_timeout"),
);

export type ShellConfig = v.InferOutput<typeof ConfigSchema>;

/**
 * Names that change what runs or how (loader, shell start-up, interpreters' module paths), refused
 * from an instruction unless allowed_env_vars lists them by name.
 */
const PROTECTED = new Set([
  "PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "CDPATH", "GLOBIGNORE", "PROMPT_COMMAND",
  "GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS",
  "NODE_OPTIONS", "NODE_PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PERL5LIB", "PERL5OPT", "PERLLIB",
  "RUBYLIB", "RUBYOPT", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "EDITOR", "VISUAL", "PAGER", "SYSTEMD_PAGER",
  "DOCKER_HOST", "KUBECONFIG", "SSL_CERT_FILE", "SSL_CERT_DIR", "HOME",
]);
const PROTECTED_PREFIXES = ["LD_", "DYLD_", "BASH_FUNC_", "GIT_", "MALLOC_"];

export function isProtectedEnv(name: string): boolean {
  const upper = name.toUpperCase();
  return PROTECTED.has(upper) || PROTECTED_PREFIXES.some((prefix) => upper.startsWith(prefix));
}
