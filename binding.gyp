{
  "targets": [
    {
      "target_name": "utmps_sys",
      "sources": ["native/utmps_sys.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"]
    }
  ]
}
