# node-gyp's build of the native data plane (native/portplex.c -> build/Release/portplex.node).
# Linux only: it is epoll and splice(2); scripts/build-native.mjs skips other systems before gyp
# runs, and src/native/addon.ts falls back to the TypeScript data plane there.
{
  "targets": [
    {
      "target_name": "portplex",
      "sources": ["native/portplex.c"],
      "conditions": [
        ["OS=='linux'", {
          # -O2, not node's -O3: the core is syscall-bound, and -O2 is what the sanitizer and
          # valgrind runs (scripts/) are compared against. No -Werror: a newer compiler's new
          # warning must not break a user's `npm install`; CI reads the warnings.
          "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wshadow", "-Wformat=2", "-Wpointer-arith"],
          "configurations": {
            "Release": { "cflags!": ["-O3"] }
          }
        }]
      ]
    }
  ]
}
