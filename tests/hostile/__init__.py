"""Issue 12: the holes an adversarial pass found, one regression test (or more) per finding, the fuzz
and property suites over everything that takes outside input, and the crash loop. Each test says
which finding it covers ("F4: ..."); each failed on the code before the fix."""
