;; FastCDC's gear scan (chunker.ts, file-chunker.ts) as WebAssembly: about 3x the bytes per second
;; of the same loop in JavaScript. Compiled into gear-scan.ts by `node scripts/gear-scan.mjs`.
(module
  ;; Bytes 0..1023: the gear table (256 little-endian u32). From 1024: the bytes to scan.
  (memory (export "memory") 1)
  ;; The rolling hash where the last scan stopped.
  (global $hash (export "hash") (mut i32) (i32.const 0))
  ;; Rolls the hash over data bytes j, j+1, ... (indexes from 1024) and returns the index after the
  ;; first byte where (h & maskS) == 0 before endS, or else where (h & maskL) == 0 before endL;
  ;; -1 when there is none before endL.
  (func (export "scan") (param $j i32) (param $endS i32) (param $endL i32) (param $h i32)
        (param $maskS i32) (param $maskL i32) (result i32)
    (block $small
      (loop $s
        (br_if $small (i32.ge_u (local.get $j) (local.get $endS)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.shl (i32.load8_u offset=1024 (local.get $j)) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $s (i32.and (local.get $h) (local.get $maskS)))
        (global.set $hash (local.get $h))
        (return (local.get $j))))
    (block $large
      (loop $l
        (br_if $large (i32.ge_u (local.get $j) (local.get $endL)))
        (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
          (i32.load (i32.shl (i32.load8_u offset=1024 (local.get $j)) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $l (i32.and (local.get $h) (local.get $maskL)))
        (global.set $hash (local.get $h))
        (return (local.get $j))))
    (global.set $hash (local.get $h))
    (i32.const -1)))
