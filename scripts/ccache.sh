# Sourced by scripts/test.sh and scripts/fuzz.sh (after `cd` to the checkout, or with CCACHE_BASEDIR
# set): the CMake arguments that build through ccache when it is installed (setup.sh installs it),
# in `launcher`. Paths inside the checkout are hashed relative to it, so a clean clone in any
# directory (CI) reuses the objects of an earlier build (ccache(1) "Compiling in different directories").
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
