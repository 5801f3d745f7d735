/*
** main.c - the `luatrain` executable, modelled on lua.c: command line
** (-e -l -i -v -h -- - --device --seed), the script's `arg` table, the
** REPL (readline when built with LT_USE_READLINE and stdin is a tty),
** tracebacks on error, and SIGINT/SIGTERM turned into a Lua error at the
** next safe point. The Lua API itself lives in bindings/; no ops here.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "luatrain.h"

#ifdef LT_USE_READLINE
#include <readline/history.h>
#include <readline/readline.h>
#endif

int luaopen_luatrain(lua_State *L);

#define PROGNAME "luatrain"
#define PROMPT "> "
#define PROMPT2 ">> "
#define MAXINPUT 4096

/* the state the signal handler sets a hook on (lua.c does the same) */
static lua_State *globalL = NULL;
static volatile sig_atomic_t n_signals = 0;
static const char *progname = PROGNAME;

/* ---------------------------------------------------------------- signals */

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted");
}

static void on_signal(int sig) {
  if (++n_signals >= 2) {  /* a second one kills (re-raised once the handler returns) */
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  lt_set_interrupt(1);
  /* a training guard stops the loop at its next step boundary itself */
  if (lt_interrupt_deferred()) return;
  lua_sethook(globalL, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void set_signals(void (*h)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = h;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* ---------------------------------------------------------------- messages */

static void l_message(const char *pname, const char *msg) {
  if (pname) fprintf(stderr, "%s: ", pname);
  fprintf(stderr, "%s\n", msg);
  fflush(stderr);
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (!msg) msg = "(error object is not a string)";
    l_message(progname, msg);
    lua_pop(L, 1);
  }
  return status;
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Calls the function below nargs args, with the traceback handler and the
** signal handlers set only while it runs. */
static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  globalL = L;
  n_signals = 0;
  set_signals(on_signal);
  int status = lua_pcall(L, narg, nres, base);
  set_signals(SIG_DFL);
  lua_sethook(L, NULL, 0, 0);
  if (status != LUA_OK) lt_set_interrupt(0);
  lua_remove(L, base);
  return status;
}

static void print_version(void) {
  printf("%s %s (%s)\n", PROGNAME, LT_VERSION, LUA_RELEASE);
  fflush(stdout);
}

/* the stdlib compiled into the binary (scripts/embed.lua writes the table) */
typedef struct { const char *name; const char *src; size_t len; } lt_embedded_module;
extern const lt_embedded_module lt_embedded_modules[];

#define CLI_PREFIX "luatrain.cli."

static void print_usage(FILE *f) {
  fprintf(f,
          "usage: %s [options] [script [args]]\n"
          "       %s [options] COMMAND [args]\n"
          "Available options are:\n"
          "  -e stat         execute string 'stat'\n"
          "  -i              enter interactive mode after executing 'script'\n"
          "  -l mod          require library 'mod' into global 'mod'\n"
          "  -l g=mod        require library 'mod' into global 'g'\n"
          "  -v, --version   show version information\n"
          "  -h, --help      show this help\n"
          "  --device DEV    default device for new tensors (cpu, cuda, cuda:N)\n"
          "  --seed N        lt.seed_everything(N) before running anything\n"
          "  --              stop handling options\n"
          "  -               stop handling options and execute stdin\n"
          "Scripts get their arguments in 'arg' and '...'; lt.args{...} parses them.\n"
          "LUATRAIN_PATH (';'-separated templates or directories) adds module paths.\n",
          progname, progname);
  fprintf(f, "Commands (when no file of that name exists; 'COMMAND --help' for more):\n");
  size_t np = strlen(CLI_PREFIX);
  for (const lt_embedded_module *m = lt_embedded_modules; m->name; m++) {
    if (strncmp(m->name, CLI_PREFIX, np) != 0) continue;
    /* the summary: the first doc line's text after "--- luatrain.cli.NAME - " */
    const char *sum = "", *dash = strstr(m->src, " - ");
    const char *eol = strchr(m->src, '\n');
    if (!eol) eol = m->src + m->len;
    int n = 0;
    if (dash && dash < eol) {
      sum = dash + 3;
      n = (int)(eol - sum);
      while (n > 0 && (sum[n - 1] == ':' || sum[n - 1] == ' ' || sum[n - 1] == '.')) n--;
    }
    fprintf(f, "  %-14s %.*s\n", m->name + np, n, sum);
  }
  fprintf(f, "A module luatrain.cli.NAME on LUATRAIN_PATH adds command NAME.\n");
  fflush(f);
}

/* ---------------------------------------------------------------- arguments */

#define has_error 1
#define has_i 2
#define has_v 4
#define has_e 8
#define has_h 16

typedef struct {
  const char *device;
  const char *seed;
} hostopts;

/* Returns flags; *first = index of the script (or argc). */
static int collectargs(char **argv, int *first, hostopts *ho) {
  int args = 0;
  int i;
  if (argv[0] != NULL) {
    if (argv[0][0]) progname = argv[0];
  } else {
    *first = -1;
    return 0;
  }
  for (i = 1; argv[i] != NULL; i++) {
    *first = i;
    if (argv[i][0] != '-') return args;
    if (strcmp(argv[i], "--") == 0) { *first = i + 1; return args; }
    if (strcmp(argv[i], "-") == 0) return args;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) { args |= has_h; continue; }
    if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) { args |= has_v; continue; }
    if (strncmp(argv[i], "--device", 8) == 0 || strncmp(argv[i], "--seed", 6) == 0) {
      bool dev = argv[i][2] == 'd';
      size_t n = dev ? 8 : 6;
      const char *val;
      if (argv[i][n] == '=') val = argv[i] + n + 1;
      else if (argv[i][n] == 0) {
        if (argv[i + 1] == NULL) { *first = i; return has_error; }
        val = argv[++i];
      } else {
        *first = i;
        return has_error;
      }
      if (dev) ho->device = val;
      else ho->seed = val;
      continue;
    }
    switch (argv[i][1]) {
      case 'i':
        if (argv[i][2] != 0) return has_error;
        args |= has_i | has_v;
        break;
      case 'E': case 'W':
        if (argv[i][2] != 0) return has_error;
        break;
      case 'e':
        args |= has_e;
        /* fallthrough */
      case 'l':
        if (argv[i][2] == 0) {
          i++;
          if (argv[i] == NULL || argv[i][0] == '-') { *first = i - 1; return has_error; }
        }
        break;
      default:
        return has_error;
    }
  }
  *first = i;
  return args;
}

static void createargtable(lua_State *L, char **argv, int argc, int script) {
  if (script == argc) script = 0;
  int narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int dochunk(lua_State *L, int status) {
  if (status == LUA_OK) status = docall(L, 0, 0);
  return report(L, status);
}

static int dostring(lua_State *L, const char *s, const char *name) {
  return dochunk(L, luaL_loadbuffer(L, s, strlen(s), name));
}

/* -l mod or -l g=mod */
static int dolibrary(lua_State *L, char *spec) {
  char *eq = strchr(spec, '=');
  const char *glb = spec, *mod = spec;
  if (eq) { *eq = 0; mod = eq + 1; }
  lua_getglobal(L, "require");
  lua_pushstring(L, mod);
  int status = docall(L, 1, 1);
  if (status == LUA_OK) {
    if (!eq) {
      /* global name: last component of the module name */
      const char *dot = strrchr(mod, '.');
      glb = dot ? dot + 1 : mod;
    }
    lua_setglobal(L, glb);
  }
  if (eq) *eq = '=';
  return report(L, status);
}

static void set_global_lt(lua_State *L) {
  if (lua_getglobal(L, "lt") == LUA_TNIL) {
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "luatrain");
    lua_setglobal(L, "lt");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static int runargs(lua_State *L, char **argv, int n) {
  for (int i = 1; i < n; i++) {
    int option = argv[i][1];
    if (argv[i][0] != '-') continue;
    if (strncmp(argv[i], "--device", 8) == 0 || strncmp(argv[i], "--seed", 6) == 0) {
      if (strchr(argv[i], '=') == NULL) i++;
      continue;
    }
    if (option == 'e' || option == 'l') {
      char *extra = argv[i] + 2;
      if (*extra == 0) extra = argv[++i];
      int st;
      if (option == 'e') {
        set_global_lt(L);
        st = dostring(L, extra, "=(command line)");
      } else {
        st = dolibrary(L, extra);
      }
      if (st != LUA_OK) return 0;
    }
  }
  return 1;
}

static int pushargs(lua_State *L) {
  if (lua_getglobal(L, "arg") != LUA_TTABLE) luaL_error(L, "'arg' is not a table");
  int n = (int)luaL_len(L, -1);
  luaL_checkstack(L, n + 3, "too many arguments to script");
  int i;
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  lua_remove(L, -i);
  return n;
}

static int handle_script(lua_State *L, char **argv) {
  const char *fname = argv[0];
  if (strcmp(fname, "-") == 0 && strcmp(argv[-1], "--") != 0) fname = NULL;
  int status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    int n = pushargs(L);
    status = docall(L, n, LUA_MULTRET);
  }
  return report(L, status);
}

/* ---------------------------------------------------------------- subcommands */

/*
** `luatrain NAME args...` where NAME is not an existing file and
** luatrain.cli.NAME is a module (stdlib, LUATRAIN_PATH, ./): runs
** require("luatrain.cli.NAME").main({args...}). Sets *found to 0 when NAME
** may be a script (an existing file, or not of the form [a-z0-9_]+); otherwise
** returns the exit status (main's integer result, 0 for nil/true, 1 for
** false, an error, or a NAME that is no command).
*/
static const char *const subcmd_code =
  "local name, args = ...\n"
  "local mod = '" CLI_PREFIX "' .. name\n"
  "if package.loaded[mod] == nil then\n"
  "  local found = false\n"
  "  for _, searcher in ipairs(package.searchers) do\n"
  "    local loader = searcher(mod)\n"
  "    if type(loader) == 'function' then found = true break end\n"
  "  end\n"
  "  if not found then return nil end\n"
  "end\n"
  "local m = require(mod)\n"
  "if type(m) ~= 'table' or type(m.main) ~= 'function' then\n"
  "  error(mod .. ': a subcommand module must return a table with main(args)', 0)\n"
  "end\n"
  "local st = m.main(args)\n"
  "if st == nil or st == true then return 0 end\n"
  "if st == false then return 1 end\n"
  "return math.tointeger(st) or 1\n";

static int is_subcommand_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
  return 1;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

static int run_subcommand(lua_State *L, char **argv, int *found) {
  *found = 0;
  const char *name = argv[0];
  if (!is_subcommand_name(name) || file_exists(name)) return 0;
  if (luaL_loadbuffer(L, subcmd_code, strlen(subcmd_code), "=luatrain") != LUA_OK) {
    report(L, LUA_ERRSYNTAX);
    *found = 1;
    return 1;
  }
  lua_pushstring(L, name);
  lua_newtable(L);
  for (int i = 1; argv[i] != NULL; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i);
  }
  int status = docall(L, 2, 1);
  if (status != LUA_OK) {
    *found = 1;
    report(L, status);
    return 1;
  }
  *found = 1;
  if (lua_isnil(L, -1)) {  /* neither a file nor a command */
    lua_pop(L, 1);
    fprintf(stderr, "%s: cannot open %s: no such file, and '%s' is not a command (see %s --help)\n",
            progname, name, name, progname);
    fflush(stderr);
    return 1;
  }
  int code = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  return code;
}

/* ---------------------------------------------------------------- REPL */

static int stdin_is_tty(void) { return isatty(0); }

#ifdef LT_USE_READLINE
/* Ctrl-C at the prompt: the handler only sets a flag; readline polls
** prompt_event_hook while it waits for a key, and the hook ends the line. */
static volatile sig_atomic_t prompt_interrupted = 0;

static void on_prompt_signal(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

static int prompt_event_hook(void) {
  if (prompt_interrupted && !rl_done) rl_done = 1;  /* the text stays on screen, unused */
  return 0;
}
#endif

/* Reads a line into buf: 1 ok, 0 end of input, 2 Ctrl-C (line discarded). */
static int readline_(lua_State *L, char *buf, const char *prompt) {
  (void)L;
#ifdef LT_USE_READLINE
  if (stdin_is_tty()) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_signal;
    sigemptyset(&sa.sa_mask);
    prompt_interrupted = 0;
    rl_catch_signals = 0;
    rl_event_hook = prompt_event_hook;
    sigaction(SIGINT, &sa, &old);
    char *line = readline(prompt);
    sigaction(SIGINT, &old, NULL);
    rl_event_hook = NULL;
    if (prompt_interrupted) {
      free(line);
      fputs("KeyboardInterrupt\n", stdout);
      fflush(stdout);
      return 2;
    }
    if (!line) return 0;
    size_t l = strlen(line);
    if (l >= MAXINPUT) l = MAXINPUT - 1;
    memcpy(buf, line, l);
    buf[l] = 0;
    free(line);
    return 1;
  }
#endif
  fputs(prompt, stdout);
  fflush(stdout);
  return fgets(buf, MAXINPUT, stdin) != NULL;
}

#ifdef LT_USE_READLINE
/* History across sessions: $LUATRAIN_HISTORY, else ~/.luatrain_history
** ("" turns it off); the last 1000 lines are kept. */
static char history_path[1024];

static void history_open(void) {
  const char *env = getenv("LUATRAIN_HISTORY");
  const char *home = getenv("HOME");
  history_path[0] = 0;
  if (env) snprintf(history_path, sizeof history_path, "%s", env);
  else if (home && home[0])
    snprintf(history_path, sizeof history_path, "%s/.luatrain_history", home);
  if (history_path[0]) read_history(history_path);
}

static void history_close(void) {
  if (!history_path[0]) return;
  if (write_history(history_path) == 0) history_truncate_file(history_path, 1000);
}
#endif

static void add_history_(const char *line) {
#ifdef LT_USE_READLINE
  if (stdin_is_tty() && line[0]) add_history(line);
#else
  (void)line;
#endif
}

static int incomplete(lua_State *L, int status) {
  if (status == LUA_ERRSYNTAX) {
    size_t lmsg;
    const char *msg = lua_tolstring(L, -1, &lmsg);
    if (lmsg >= 5 && strcmp(msg + lmsg - 5, "<eof>") == 0) {
      lua_pop(L, 1);
      return 1;
    }
  }
  return 0;
}

#define LINE_CANCELLED (-2)  /* loadline: Ctrl-C at the prompt dropped the input */

/* 1: a line pushed; 0: end of input; 2: Ctrl-C (nothing pushed) */
static int pushline(lua_State *L, int firstline) {
  char buf[MAXINPUT];
  int r = readline_(L, buf, firstline ? PROMPT : PROMPT2);
  if (r != 1) return r;
  size_t l = strlen(buf);
  if (l > 0 && buf[l - 1] == '\n') buf[--l] = 0;
  lua_pushlstring(L, buf, l);
  return 1;
}

static int addreturn(lua_State *L) {
  const char *line = lua_tostring(L, -1);
  const char *retline = lua_pushfstring(L, "return %s;", line);
  int status = luaL_loadbuffer(L, retline, strlen(retline), "=stdin");
  if (status == LUA_OK) {
    lua_remove(L, -2);
    add_history_(line);
  } else {
    lua_pop(L, 2);
  }
  return status;
}

static int multiline(lua_State *L) {
  for (;;) {
    size_t len;
    const char *line = lua_tolstring(L, 1, &len);
    int status = luaL_loadbuffer(L, line, len, "=stdin");
    int r = 0;
    if (!incomplete(L, status) || (r = pushline(L, 0)) == 0) {
      add_history_(line);
      return status;
    }
    if (r == 2) return LINE_CANCELLED;
    lua_pushliteral(L, "\n");
    lua_insert(L, -2);
    lua_concat(L, 3);
  }
}

static int loadline(lua_State *L) {
  lua_settop(L, 0);
  int r = pushline(L, 1);
  if (r == 0) return -1;
  if (r == 2) return LINE_CANCELLED;
  int status;
  if ((status = addreturn(L)) != LUA_OK) status = multiline(L);
  if (status == LINE_CANCELLED) {
    lua_settop(L, 0);
    return status;
  }
  lua_remove(L, 1);
  return status;
}

static void l_print(lua_State *L) {
  int n = lua_gettop(L);
  if (n > 0) {
    luaL_checkstack(L, LUA_MINSTACK, "too many results to print");
    lua_getglobal(L, "print");
    lua_insert(L, 1);
    if (lua_pcall(L, n, 0, 0) != LUA_OK)
      l_message(progname, lua_pushfstring(L, "error calling 'print' (%s)", lua_tostring(L, -1)));
  }
}

static void doREPL(lua_State *L) {
  int status;
  const char *oldprogname = progname;
  progname = NULL;
  set_global_lt(L);
#ifdef LT_USE_READLINE
  if (stdin_is_tty()) history_open();
#endif
  while ((status = loadline(L)) != -1) {
    if (status == LINE_CANCELLED) continue;
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK) l_print(L);
    else report(L, status);
  }
  lua_settop(L, 0);
#ifdef LT_USE_READLINE
  if (stdin_is_tty()) history_close();
#endif
  fputs("\n", stdout);
  fflush(stdout);
  progname = oldprogname;
}

/* ---------------------------------------------------------------- main */

static int host_setup(lua_State *L, const hostopts *ho) {
  if (ho->device) {
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "luatrain");
    lua_getfield(L, -1, "set_default_device");
    lua_pushstring(L, ho->device);
    int st = docall(L, 1, 0);
    if (st != LUA_OK) {
      lua_pushfstring(L, "--device: %s", lua_tostring(L, -1));
      lua_remove(L, -2);
      report(L, st);
      return 0;
    }
    lua_pop(L, 2);
  }
  if (ho->seed) {
    char *end;
    long long s = strtoll(ho->seed, &end, 10);
    if (*ho->seed == 0 || *end != 0) {
      l_message(progname, lua_pushfstring(L, "--seed: expected an integer, got '%s'", ho->seed));
      return 0;
    }
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "luatrain");
    lua_getfield(L, -1, "seed_everything");
    lua_pushinteger(L, (lua_Integer)s);
    if (report(L, docall(L, 1, 0)) != LUA_OK) return 0;
    lua_pop(L, 2);
  }
  return 1;
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int script = 0;
  hostopts ho = {NULL, NULL};
  int args = collectargs(argv, &script, &ho);
  if (args == has_error) {
    const char *a = script > 0 && argv[script] ? argv[script] : "";
    if (a[0] == '-' && (a[1] == 'e' || a[1] == 'l') && a[2] == 0)
      fprintf(stderr, "%s: '%s' needs argument\n", progname, a);
    else if (strncmp(a, "--device", 8) == 0 || strncmp(a, "--seed", 6) == 0)
      fprintf(stderr, "%s: '%s' needs an argument\n", progname, a);
    else
      fprintf(stderr, "%s: unrecognized option '%s'\n", progname, a);
    print_usage(stderr);
    return 0;
  }
  if (args & has_h) {
    print_usage(stdout);
    lua_pushinteger(L, 0);
    return 1;
  }
  if (args & has_v) print_version();
  luaL_checkversion(L);
  luaL_openlibs(L);
  createargtable(L, argv, argc, script);
  lua_gc(L, LUA_GCRESTART);
  /* Generational mode: op results are small userdata that die young; minor
  ** collections free them (and their tensors) quickly, which keeps freed
  ** tensors in the engine's caches and the heap small (bench/README.md). */
  lua_gc(L, LUA_GCGEN, 0, 0);
  /* preload: package.loaded.luatrain */
  lua_pushcfunction(L, luaopen_luatrain);
  lua_pushliteral(L, "luatrain");
  if (report(L, docall(L, 1, 1)) != LUA_OK) return 0;
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "luatrain");
  lua_pop(L, 2);
  if (!host_setup(L, &ho)) return 0;
  if (!runargs(L, argv, script)) return 0;
  if (script > 0 && script < argc && argv[script]) {
    int found;
    int code = run_subcommand(L, argv + script, &found);
    if (found) {
      lua_pushinteger(L, code);
      return 1;
    }
    if (handle_script(L, argv + script) != LUA_OK) return 0;
  }
  if (args & has_i) {
    doREPL(L);
  } else if ((script == 0 || script >= argc) && !(args & (has_e | has_v))) {
    if (stdin_is_tty()) print_version();
    doREPL(L);
  }
  lua_pushinteger(L, 0);
  return 1;
}

/* Idle OpenMP workers spin only briefly (GOMP_SPINCOUNT=3000, a few
** microseconds) unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT):
** libgomp's default spin (300,000) lets an idle worker take a core from the
** thread doing the work whenever the machine runs anything else, and our
** loops run one parallel region per op. Measured on 2 cores with one busy
** process beside: MLP 100 batches 1.26 s default, 0.45 s at 3000, 0.36 s
** passive; idle: 0.24 / 0.28 / 0.29 s (LSTM and CNN steps alike). libgomp
** reads the variables once, in its constructor, before main: so main sets
** it and re-executes itself once (a few ms); where that fails it runs on. */
static void omp_wait_policy(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("GOMP_SPINCOUNT", "3000", 0) != 0) return;
  execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
  omp_wait_policy(argv);
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message(argv[0], "cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  lua_gc(L, LUA_GCSTOP);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  /* pmain returns the exit status as an integer, or false on failure */
  int result = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : EXIT_FAILURE;
  report(L, status);
  lua_close(L);
  return status == LUA_OK ? result : EXIT_FAILURE;
}
