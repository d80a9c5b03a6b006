#!/usr/bin/env bats
# The selfsup dispatcher: `selfsup STAGE ARG...` runs selfsup-STAGE found beside the
# dispatcher first, then on PATH, and passes its arguments and exit status through.

load helpers

setup() {
    mkdir "$BATS_TEST_TMPDIR/work"
    cd "$BATS_TEST_TMPDIR/work"
    SELFSUP="$BIN/selfsup"
}

# make_stage DIR NAME BODY: write an executable shell script DIR/NAME running BODY.
make_stage() {
    mkdir -p "$1"
    printf '#!/bin/sh\n%s\n' "$3" >"$1/$2"
    chmod +x "$1/$2"
}

@test "dispatcher: --help" {
    run --separate-stderr "$SELFSUP" --help
    assert_success
    assert_equal "$stderr" ""
    assert_line --index 0 "Usage: selfsup STAGE [ARG]..."
    assert_output --partial "tsf"
    run --separate-stderr "$SELFSUP" -h
    assert_success
    assert_line --index 0 "Usage: selfsup STAGE [ARG]..."
}

@test "dispatcher: --version" {
    run --separate-stderr "$SELFSUP" --version
    assert_success
    assert_equal "$stderr" ""
    assert_output --regexp '^selfsup [0-9]+\.[0-9]+'
}

@test "dispatcher: no arguments is a usage error" {
    expect_usage_error "$SELFSUP"
    [[ "$stderr" == *"Usage: selfsup"* ]] || fail "$stderr"
}

@test "dispatcher: tsf --version runs the stage" {
    run --separate-stderr "$SELFSUP" tsf --version
    assert_success
    assert_output --regexp '^selfsup-tsf [0-9]+\.[0-9]+'
}

@test "dispatcher: tsf subcommand with data" {
    make_samples s.tsf 6 2
    run --separate-stderr "$SELFSUP" tsf validate s.tsf
    assert_success
    assert_output "s.tsf: ok: 1 stream, 6 records"
}

@test "dispatcher: the stage's usage error passes through" {
    expect_usage_error "$SELFSUP" tsf head -n abc
}

@test "dispatcher: unknown stage" {
    expect_usage_error env PATH="$BATS_TEST_TMPDIR/work" "$SELFSUP" nosuchstage
    [[ "$stderr" == *"unknown stage 'nosuchstage'"* ]] || fail "$stderr"
    [[ "$stderr" == *"selfsup-nosuchstage"* ]] || fail "$stderr"
}

@test "dispatcher: invalid stage name" {
    make_stage "$BATS_TEST_TMPDIR/work/sub" selfsup-x 'echo ran'
    expect_usage_error "$SELFSUP" ../work/sub/x
    expect_usage_error "$SELFSUP" -x
}

@test "dispatcher: user stage gets arguments" {
    make_stage "$BATS_TEST_TMPDIR/path" selfsup-mystage 'for a in "$@"; do echo "[$a]"; done'
    run --separate-stderr env PATH="$BATS_TEST_TMPDIR/path:$PATH" "$SELFSUP" mystage a "b c" --flag ''
    assert_success
    assert_equal "$output" "$(printf '[a]\n[b c]\n[--flag]\n[]')"
}

@test "dispatcher: status and stdin pass through" {
    make_stage "$BATS_TEST_TMPDIR/path" selfsup-mystage 'cat; exit 7'
    run --separate-stderr env PATH="$BATS_TEST_TMPDIR/path:$PATH" "$SELFSUP" mystage <<<"hello"
    assert_equal "$status" 7
    assert_output "hello"
}

@test "dispatcher: stage beside wins over PATH" {
    mkdir inst
    cp "$SELFSUP" inst/selfsup
    make_stage inst selfsup-tsf 'echo "beside $*"'
    make_stage "$BATS_TEST_TMPDIR/path" selfsup-tsf 'echo "on path $*"'
    run --separate-stderr env PATH="$BATS_TEST_TMPDIR/path:$PATH" inst/selfsup tsf info x
    assert_success
    assert_output "beside info x"
}

@test "dispatcher: beside through a symlink" {
    mkdir inst links
    cp "$SELFSUP" inst/selfsup
    make_stage inst selfsup-tsf 'echo beside'
    ln -s "$PWD/inst/selfsup" links/selfsup
    run --separate-stderr env PATH="$PWD/links:/usr/bin:/bin" selfsup tsf
    assert_success
    assert_output "beside"
}

@test "dispatcher: falls back to PATH" {
    mkdir inst
    cp "$SELFSUP" inst/selfsup
    make_stage "$BATS_TEST_TMPDIR/path" selfsup-tsf 'echo "on path $*"'
    run --separate-stderr env PATH="$BATS_TEST_TMPDIR/path:$PATH" inst/selfsup tsf cat
    assert_success
    assert_output "on path cat"
}

@test "dispatcher: non-executable stage fails" {
    mkdir inst
    cp "$SELFSUP" inst/selfsup
    printf '#!/bin/sh\necho ran\n' >"$BATS_TEST_TMPDIR/path-selfsup-noexec"
    mkdir -p "$BATS_TEST_TMPDIR/path"
    mv "$BATS_TEST_TMPDIR/path-selfsup-noexec" "$BATS_TEST_TMPDIR/path/selfsup-noexec"
    run --separate-stderr env PATH="$BATS_TEST_TMPDIR/path" inst/selfsup noexec
    assert_failure
    refute_output "ran"
    [ -n "$stderr" ]
}
