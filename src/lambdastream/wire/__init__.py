"""The protocols lambdastream speaks, each written once: pure functions over bytes.

Standard library only, no I/O: the runtime (which ships in every function),
the local Lambda, the HTTP server, the caller and Bedrock all use these, and
nothing else carries a copy. The modules are imported one by one (this
package imports none of them), so a function's cold start loads only what
it uses:

- :mod:`~lambdastream.wire.chunks`: HTTP/1.1 chunk framing and Lambda's
  error trailers (what the runtime writes);
- :mod:`~lambdastream.wire.dechunk`: the strict chunked-body decoder, with
  trailers (what the Runtime API reads, as strict as Lambda's);
- :mod:`~lambdastream.wire.integration`: the HTTP integration prelude's
  constants and framing; :mod:`~lambdastream.wire.prelude` its decoder;
- :mod:`~lambdastream.wire.request`: one HTTP request, and
  :mod:`~lambdastream.wire.http1` what makes its head one a server refuses;
- :mod:`~lambdastream.wire.eventstream`: the AWS event stream;
- :mod:`~lambdastream.wire.sigv4`: SigV4 signature verification.
"""
