#!/usr/bin/env bash
# perl building hashes and strings, sorting and matching, with and without
# the shim: same output and status, snapshots readable.
source "$(dirname "$0")/common.sh"
source "$(dirname "$0")/real_lib.sh"

command -v perl >/dev/null || fail "no perl (run scripts/setup)"

prepare() {
    cat >alloc.pl <<'PL'
use strict; use warnings;
my %h; my @keep;
for my $i (1 .. 150000) {
    my $k = sprintf("key%06d", $i) x (1 + $i % 5);
    $h{$k} = [ ($i) x ($i % 11) ];
    push @keep, substr($k, 0, 12) if $i % 4 == 0;
    delete $h{$k} if $i % 3 == 0;
}
my @sorted = sort { $b cmp $a } @keep;
my $matches = grep { /7.*3/ } @sorted;
my $sum = 0; $sum += scalar(@{$h{$_}}) for keys %h;
print scalar(keys %h), " $sum $matches $sorted[0] $sorted[-1]\n";
PL
}
real_run perl 60 prepare -- perl alloc.pl
