#!/usr/bin/env bash
# Placeholder until the Node.js conformance peer is wired in.
exit 0
