#!/bin/sh
# lambdastream's exec wrapper for Lambda's managed Python runtimes.
#
# With AWS_LAMBDA_EXEC_WRAPPER=/opt/lambdastream, the managed runtime runs
#     /opt/lambdastream /var/lang/bin/python3.13 /var/runtime/bootstrap.py
# (its interpreter, any flags of the interpreter, its bootstrap script last)
# instead of the interpreter itself. This replaces itself with the same
# interpreter and flags running lambdastream's runtime from this layer: one
# exec, no other process. The runtime then orders sys.path as the managed
# bootstrap would (lambdastream/runtime/bootstrap.py).
if [ $# -lt 2 ]; then
  echo "lambdastream: expected the interpreter and bootstrap script that Lambda passes to AWS_LAMBDA_EXEC_WRAPPER, got: $*" >&2
  exit 2
fi
case $0 in
  */*) layer=${0%/*} ;;
  *) layer=. ;;
esac
# Keep every argument but the last (the managed bootstrap script), in order.
count=$#
i=1
for arg do
  shift
  if [ "$i" -lt "$count" ]; then set -- "$@" "$arg"; else script=$arg; fi
  i=$((i + 1))
done
exec "$@" -c 'import sys; sys.path.insert(0, sys.argv[1] + "/python"); from lambdastream.runtime.bootstrap import exec_wrapper_main; sys.exit(exec_wrapper_main())' "$layer" "$script"
