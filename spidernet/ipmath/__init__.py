"""Pure address arithmetic on Python ints (128-bit safe). No I/O."""
