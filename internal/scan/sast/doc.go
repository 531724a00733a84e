// Package sast is Gantry's static application security testing step for Go:
// gosec's rules and its SSA-based taint analyzers run, as a library, over
// every package of the Go modules under the scanned root.
//
// # What is scanned
//
// The root's own module (its go.mod, or one above it, as the go command
// finds it) and every module nested below it, each loaded once with
// golang.org/x/tools/go/packages: tests included, default build tags plus
// Options.Tags and the step's `with: {tags: ...}`. Directories the go
// command ignores (testdata, names starting with . or _) and vendored or
// installed dependencies (vendor, node_modules) are not scanned.
// Dependencies are read from export data, so only the module's own code is
// parsed and type-checked, and packages are analysed in parallel.
//
// Each package is checked by gosec's syntax rules; when it type-checks, its
// SSA form is built and the analyzers run on it too. The taint analyzers
// follow untrusted data (an *http.Request, url.Values, os.Args,
// os.Getenv, bufio readers) within one package; a flow that crosses a
// package boundary is left to the pattern rules (G201, G202, G204, G304,
// G107), which flag risky sinks whatever feeds them. Both kinds can report
// the same line (G201 and G701 for one query built from a request): each
// is its own rule, with its own waivers.
//
// # Gaps: what is not covered is said
//
// Nothing is passed over silently. A module that cannot be loaded, a root
// with no Go at all, a package that does not type-check (its syntax rules
// still run; its taint analysis cannot), a package importing one that does
// not, a rule or analyzer that fails: each is a scan.Gap with the reason.
// So is each other language found under the root ("language: Python (12
// files)"), by file extension.
//
// # Findings
//
// Severity is gosec's (LOW, MEDIUM, HIGH map to low, medium, high), except
// that a taint finding gosec is highly confident of is critical for the
// rules where untrusted input runs as code, a command or a query: G701
// (SQL), G702 (command) and G708 (template) injection. The pattern rules
// for the same flaws keep gosec's severity, since they do not prove the
// input is untrusted. Confidence is gosec's; CWE comes from gosec's rule
// mapping; Help is a short how-to-fix written for each rule.
//
// Paths are relative to the root with forward slashes. The fingerprint is
// scan.Fingerprint("sast", rule, path, flagged source line with whitespace
// folded), so moving code within a file keeps it; a second identical
// flagged line in the same file gets an occurrence number in its key.
//
// #nosec and //gosec:disable comments suppress findings when
// Options.HonourNosec is set (the default); Result.Scanned["nosec"] counts
// the findings they suppressed.
//
// Two refinements dismiss a finding when the code beside it proves it
// harmless, and Result.Scanned["dismissed"] counts them: a path checked
// to stay under a base directory (cleaned with filepath.Join or Clean and
// tested with strings.HasPrefix, or a name tested with filepath.IsLocal)
// for G304 and G703; and a response whose Content-Type was set to a type
// browsers do not render as HTML (text/plain, JSON, CSV, octet-stream,
// raster images) for G705.
//
// # Rules
//
// Every rule and analyzer in gosec v2.30.0 runs by default, except G104
// (unchecked errors), which DefaultOptions leaves to the linters.
//
// Injection and untrusted input:
//
//	G201  SQL query built with a format string              CWE-89
//	G202  SQL query built by string concatenation           CWE-89
//	G203  unescaped data marked safe in html/template       CWE-79
//	G204  subprocess started with variable arguments        CWE-78
//	G701  SQL injection (taint)                             CWE-89
//	G702  command injection (taint)                         CWE-78
//	G703  path traversal (taint)                            CWE-22
//	G704  server-side request forgery (taint)               CWE-918
//	G705  cross-site scripting (taint)                      CWE-79
//	G706  log injection (taint)                             CWE-117
//	G707  SMTP command or header injection (taint)          CWE-93
//	G708  server-side template injection (taint)            CWE-94
//	G709  unsafe deserialisation of untrusted data (taint)  CWE-502
//	G710  open redirect (taint)                             CWE-601
//	G107  HTTP request to a variable URL                    CWE-88
//	G125  unescaped elements in url.JoinPath                CWE-22
//
// Files and paths:
//
//	G304  file opened through a variable path               CWE-22
//	G305  archive entry extracted outside its destination   CWE-22
//	G111  http.Dir serving the file system root             CWE-22
//	G301  directory created with loose permissions          CWE-276
//	G302  file created or chmod-ed with loose permissions   CWE-276
//	G306  file written with loose permissions               CWE-276
//	G307  file created with os.Create's default mode        CWE-276
//	G303  temporary file at a predictable path              CWE-377
//	G122  symlink race in filepath.Walk callbacks           CWE-367
//
// Cryptography and TLS:
//
//	G401  MD5 or SHA-1 used                                 CWE-328
//	G402  TLS verification off or an old minimum version    CWE-295
//	G403  RSA key shorter than 2048 bits                    CWE-310
//	G404  math/rand where unpredictability matters          CWE-338
//	G405  DES or RC4 used                                   CWE-327
//	G406  MD4 or RIPEMD-160 used                            CWE-328
//	G407  constant nonce or IV                              CWE-1204
//	G501  crypto/md5 imported                               CWE-327
//	G502  crypto/des imported                               CWE-327
//	G503  crypto/rc4 imported                               CWE-327
//	G504  net/http/cgi imported                             CWE-327
//	G505  crypto/sha1 imported                              CWE-327
//	G506  golang.org/x/crypto/md4 imported                  CWE-327
//	G507  golang.org/x/crypto/ripemd160 imported            CWE-327
//	G123  TLS resumption bypassing VerifyPeerCertificate    CWE-295
//	G106  ssh.InsecureIgnoreHostKey                         CWE-322
//	G408  stateful ssh.PublicKeyCallback                    CWE-287
//
// Secrets:
//
//	G101  hard-coded credentials                            CWE-798
//	G117  secret field exposed by JSON/YAML/XML marshalling CWE-499
//
// HTTP servers and clients:
//
//	G102  listening on all interfaces                       CWE-200
//	G108  pprof exposed on the default mux                  CWE-200
//	G112  no ReadHeaderTimeout (Slowloris)                  CWE-400
//	G114  http.ListenAndServe without timeouts              CWE-676
//	G113  request smuggling (conflicting length headers)    CWE-444
//	G119  sensitive headers kept across redirects           CWE-200
//	G120  unbounded form parsing                            CWE-400
//	G121  CrossOriginProtection bypass patterns             CWE-346
//	G124  cookie without Secure, HttpOnly or SameSite       CWE-614
//	G110  decompression without a size limit                CWE-409
//	G118  context not propagated or never cancelled         CWE-400
//
// Memory and integer safety:
//
//	G103  package unsafe used                               CWE-242
//	G109  strconv.Atoi result narrowed                      CWE-190
//	G115  integer conversion that can overflow              CWE-190
//	G601  address of a range variable (before Go 1.22)      CWE-118
//	G602  slice index or bound out of range                 CWE-118
//	G116  bidirectional Unicode in source (Trojan Source)   CWE-838
//
// Off by default:
//
//	G104  unchecked error                                   CWE-703
package sast
