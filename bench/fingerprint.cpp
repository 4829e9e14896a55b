#include "bench/fingerprint.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "bench/build_info.hpp"
#include "kernels/error.hpp"

extern char** environ;  // POSIX: the environment posix_spawnp passes on

namespace hwnas {

namespace {

constexpr std::string_view kUnknown = "unknown";

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<std::int64_t> to_int(std::string_view s) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

// The value of the first "key<spaces/tabs>: value" line of a /proc file.
std::optional<std::string> proc_field(const std::string& text, std::string_view key) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (trim(std::string_view(line).substr(0, colon)) == key) {
      return std::string(trim(std::string_view(line).substr(colon + 1)));
    }
  }
  return std::nullopt;
}

std::string read_trimmed(const std::string& path, std::string_view fallback) {
  const auto text = read_text(path);
  return text ? std::string(trim(*text)) : std::string(fallback);
}

int physical_cores() {
  const std::string cpu_dir = "/sys/devices/system/cpu/";
  std::vector<int> online;
  try {
    online = parse_cpu_list(read_trimmed(cpu_dir + "online", ""));
  } catch (const InvalidArgument&) {
    online.clear();  // fall through to /proc/cpuinfo
  }
  std::set<std::pair<std::string, std::string>> cores;
  for (const int cpu : online) {
    const std::string topo = fmt::format("{}cpu{}/topology/", cpu_dir, cpu);
    const auto package = read_text(topo + "physical_package_id");
    const auto core = read_text(topo + "core_id");
    if (!package || !core) {
      cores.clear();
      break;
    }
    cores.emplace(trim(*package), trim(*core));
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  // /proc/cpuinfo pairs "physical id" and "core id" per logical CPU on x86.
  if (const auto cpuinfo = read_text("/proc/cpuinfo")) {
    std::istringstream blocks(*cpuinfo);
    std::string line, package, core;
    while (std::getline(blocks, line)) {
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      const std::string_view key = trim(std::string_view(line).substr(0, colon));
      const std::string value(trim(std::string_view(line).substr(colon + 1)));
      if (key == "physical id") package = value;
      if (key == "core id") cores.emplace(package, value);
    }
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

std::string affinity_list() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return std::string(kUnknown);
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return format_cpu_list(cpus);
}

// Runs argv with stdout captured and stderr discarded; nullopt if it cannot start, exits non-zero,
// or outlives `timeout` (then it is killed). posix_spawnp rather than popen: no shell, and a child
// we can kill by its pid.
std::optional<std::string> run_and_capture(const std::vector<std::string>& argv,
                                           std::chrono::milliseconds timeout) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return std::nullopt;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);  // dup2 drops O_CLOEXEC
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));  // spawn API is not const
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    return std::nullopt;
  }
  std::string out;
  bool timed_out = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd pfd{.fd = pipe_fds[0], .events = POLLIN, .revents = 0};
    const int ready = poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = ready == 0;
      break;
    }
    char buffer[4096];
    const ssize_t got = read(pipe_fds[0], buffer, sizeof(buffer));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // EOF: the child closed its stdout
    out.append(buffer, static_cast<std::size_t>(got));
    if (out.size() > (std::size_t{1} << 20)) break;  // no GPU list is a megabyte
  }
  close(pipe_fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

// --- JSON ------------------------------------------------------------------------------------------

using Json = nlohmann::ordered_json;  // keeps the fields in declaration order when written

// Reads the fields of one object, remembering which keys it consumed so the leftovers can be named.
class JsonFields {
 public:
  explicit JsonFields(const Json& object) : object_(object) {}

  std::string string(const char* key) { return take(key, Json::value_t::string, "a string").get<std::string>(); }
  std::int64_t integer(const char* key) {
    const Json& v = at(key);
    if (!v.is_number_integer()) throw wrong_type(key, "an integer", v);
    return v.get<std::int64_t>();
  }
  int small_integer(const char* key) {
    const std::int64_t v = integer(key);
    if (v < 0 || v > (std::int64_t{1} << 30)) {
      throw InvalidArgument(fmt::format("fingerprint: /{}={} must be in [0, 2^30]", key, v));
    }
    return static_cast<int>(v);
  }
  std::vector<std::string> strings(const char* key) {
    const Json& v = take(key, Json::value_t::array, "an array of strings");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!v[i].is_string()) throw wrong_type(fmt::format("{}/{}", key, i), "a string", v[i]);
      out.push_back(v[i].get<std::string>());
    }
    return out;
  }
  void reject_unknown() const {
    for (const auto& [key, value] : object_.items()) {
      if (!seen_.contains(key)) throw InvalidArgument(fmt::format("fingerprint: unknown key /{}", key));
    }
  }

 private:
  const Json& at(const char* key) {
    const auto it = object_.find(key);
    if (it == object_.end()) throw InvalidArgument(fmt::format("fingerprint: missing key /{}", key));
    seen_.insert(key);
    return *it;
  }
  const Json& take(const char* key, Json::value_t type, std::string_view what) {
    const Json& v = at(key);
    if (v.type() != type) throw wrong_type(key, what, v);
    return v;
  }
  static InvalidArgument wrong_type(std::string_view pointer, std::string_view what, const Json& v) {
    return InvalidArgument(fmt::format("fingerprint: /{} must be {}, got {}", pointer, what, v.dump()));
  }

  const Json& object_;
  std::set<std::string, std::less<>> seen_;
};

std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  return h;
}

}  // namespace

std::string format_cpu_list(std::span<const int> cpus) {
  std::vector<int> sorted(cpus.begin(), cpus.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  std::string out;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", sorted[i]) : fmt::format("{}-{}", sorted[i], sorted[j]);
    i = j + 1;
  }
  return out;
}

std::vector<int> parse_cpu_list(std::string_view list) {
  std::vector<int> cpus;
  const std::string_view text = trim(list);
  if (text.empty()) throw InvalidArgument("fingerprint: CPU list '' is empty, expected e.g. \"0-3,8\"");
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    const std::size_t dash = item.find('-');
    const auto lo = to_int(item.substr(0, dash));
    const auto hi = dash == std::string_view::npos ? lo : to_int(item.substr(dash + 1));
    if (!lo || !hi || *lo < 0 || *hi < *lo || *hi >= (1 << 20)) {
      throw InvalidArgument(fmt::format("fingerprint: CPU list '{}' has a bad item '{}', expected N or N-M "
                                        "with 0 <= N <= M",
                                        text, item));
    }
    for (std::int64_t cpu = *lo; cpu <= *hi; ++cpu) cpus.push_back(static_cast<int>(cpu));
    start = comma + 1;
  }
  return cpus;
}

CacheSizes read_cache_sizes() {
  CacheSizes c;
  const std::string cpu_dir = "/sys/devices/system/cpu/";
  for (int index = 0; index < 16; ++index) {
    const std::string dir = fmt::format("{}cpu0/cache/index{}/", cpu_dir, index);
    const auto level = read_text(dir + "level");
    if (!level) break;
    const std::string type = read_trimmed(dir + "type", "");
    const std::int64_t bytes = std::max<std::int64_t>(0, parse_cache_size(read_trimmed(dir + "size", "")));
    const std::string_view lv = trim(*level);
    if (lv == "1" && type == "Data") c.l1d_bytes = bytes;
    if (lv == "2" && type != "Instruction") c.l2_bytes = bytes;
    if (lv == "3" && type != "Instruction") c.l3_bytes = bytes;
  }
  if (c.l3_bytes > 0) {
    // Each L3 instance is named by the CPUs that share it; count the distinct names. The index of the
    // L3 entry can differ between CPU models, so look it up per CPU by level.
    std::set<std::string> instances;
    std::vector<int> online;
    try {
      online = parse_cpu_list(read_trimmed(cpu_dir + "online", ""));
    } catch (const InvalidArgument&) {
      online = {0};
    }
    for (const int cpu : online) {
      for (int index = 0; index < 16; ++index) {
        const std::string dir = fmt::format("{}cpu{}/cache/index{}/", cpu_dir, cpu, index);
        const auto level = read_text(dir + "level");
        if (!level) break;
        if (trim(*level) == "3") instances.insert(read_trimmed(dir + "shared_cpu_list", ""));
      }
    }
    c.l3_instances = std::max(1, static_cast<int>(instances.size()));
  }
  return c;
}

std::int64_t parse_cache_size(std::string_view size) {
  const std::string_view s = trim(size);
  if (s.empty()) return -1;
  std::int64_t unit = 1;
  std::string_view digits = s;
  switch (s.back()) {
    case 'K': unit = std::int64_t{1} << 10; digits.remove_suffix(1); break;
    case 'M': unit = std::int64_t{1} << 20; digits.remove_suffix(1); break;
    case 'G': unit = std::int64_t{1} << 30; digits.remove_suffix(1); break;
    default: break;
  }
  const auto value = to_int(digits);
  return value && *value >= 0 ? *value * unit : -1;
}

std::vector<std::string> parse_gpu_list(std::string_view text) {
  // "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-...)"; MIG instances are indented "MIG ..." lines and
  // belong to the GPU above them.
  std::vector<std::string> names;
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("GPU ")) continue;
    const auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string_view name = std::string_view(line).substr(colon + 2);
    if (const auto uuid = name.rfind(" (UUID:"); uuid != std::string_view::npos) name = name.substr(0, uuid);
    if (!trim(name).empty()) names.emplace_back(trim(name));
  }
  return names;
}

std::vector<std::string> list_gpus(std::chrono::milliseconds timeout) {
  const auto out = run_and_capture({"nvidia-smi", "-L"}, timeout);
  return out ? parse_gpu_list(*out) : std::vector<std::string>{};
}

Fingerprint collect_fingerprint(const Engine& engine) {
  Fingerprint fp;
  const auto cpuinfo = read_text("/proc/cpuinfo");
  fp.cpu_model = std::string(kUnknown);
  if (cpuinfo) {
    if (auto model = proc_field(*cpuinfo, "model name")) fp.cpu_model = std::move(*model);
  }
  fp.isa = engine.isa();
  fp.cores = physical_cores();
  if (const auto meminfo = read_text("/proc/meminfo")) {
    // "MemTotal:       24684084 kB"
    if (const auto total = proc_field(*meminfo, "MemTotal")) {
      const std::string_view value = trim(*total);
      if (const auto kib = to_int(value.substr(0, value.find(' ')))) fp.memory_bytes = *kib * 1024;
    }
  }
  const CacheSizes caches = read_cache_sizes();
  fp.l1d_bytes = caches.l1d_bytes;
  fp.l2_bytes = caches.l2_bytes;
  fp.l3_bytes = caches.l3_bytes;
  fp.gpus = list_gpus();
  char host[256] = {};
  fp.hostname = gethostname(host, sizeof(host) - 1) == 0 ? host : std::string(kUnknown);
  utsname uts{};
  fp.os = uname(&uts) == 0 ? fmt::format("{} {} {}", uts.sysname, uts.release, uts.machine) : std::string(kUnknown);

  fp.threads = engine.threads();
  fp.affinity = affinity_list();
  fp.governor = read_trimmed("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", kUnknown);

  fp.onednn_version = onednn_version();
  fp.onednn_source = HWNAS_ONEDNN_SOURCE;
  const BuildInfo& build = build_info();
  fp.compiler = build.compiler;
  fp.build_flags = build.build_flags;
  fp.build_type = build.build_type;
  fp.code_version = build.code_version;
  return fp;
}

std::string fingerprint_to_json(const Fingerprint& fp) {
  Json j;
  j["cpu_model"] = fp.cpu_model;
  j["isa"] = fp.isa;
  j["cores"] = fp.cores;
  j["memory_bytes"] = fp.memory_bytes;
  j["l1d_bytes"] = fp.l1d_bytes;
  j["l2_bytes"] = fp.l2_bytes;
  j["l3_bytes"] = fp.l3_bytes;
  j["gpus"] = fp.gpus;
  j["hostname"] = fp.hostname;
  j["os"] = fp.os;
  j["threads"] = fp.threads;
  j["affinity"] = fp.affinity;
  j["governor"] = fp.governor;
  j["onednn_version"] = fp.onednn_version;
  j["onednn_source"] = fp.onednn_source;
  j["compiler"] = fp.compiler;
  j["build_flags"] = fp.build_flags;
  j["build_type"] = fp.build_type;
  j["code_version"] = fp.code_version;
  return j.dump();
}

Fingerprint fingerprint_from_json(std::string_view text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    throw IoError(fmt::format("fingerprint: not valid JSON: {}", e.what()));
  }
  if (!j.is_object()) throw InvalidArgument(fmt::format("fingerprint: expected a JSON object, got {}", j.type_name()));
  JsonFields f(j);
  Fingerprint fp{.cpu_model = f.string("cpu_model"),
                 .isa = f.string("isa"),
                 .cores = f.small_integer("cores"),
                 .memory_bytes = f.integer("memory_bytes"),
                 .l1d_bytes = f.integer("l1d_bytes"),
                 .l2_bytes = f.integer("l2_bytes"),
                 .l3_bytes = f.integer("l3_bytes"),
                 .gpus = f.strings("gpus"),
                 .hostname = f.string("hostname"),
                 .os = f.string("os"),
                 .threads = f.small_integer("threads"),
                 .affinity = f.string("affinity"),
                 .governor = f.string("governor"),
                 .onednn_version = f.string("onednn_version"),
                 .onednn_source = f.string("onednn_source"),
                 .compiler = f.string("compiler"),
                 .build_flags = f.string("build_flags"),
                 .build_type = f.string("build_type"),
                 .code_version = f.string("code_version")};
  f.reject_unknown();
  return fp;
}

std::string device_key(const Fingerprint& fp) {
  const auto gib = static_cast<std::int64_t>(std::llround(static_cast<double>(fp.memory_bytes) / (1 << 30)));
  std::string identity = fmt::format("cpu_model={}\ncores={}\nmemory_gib={}\nhostname={}\n", fp.cpu_model,
                                     fp.cores, gib, fp.hostname);
  for (const std::string& gpu : fp.gpus) identity += fmt::format("gpu={}\n", gpu);
  return fmt::format("{:016x}", fnv1a(identity));
}

std::vector<std::string> warnings(const Fingerprint& fp) {
  std::vector<std::string> out;
  std::string type = fp.build_type;
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  if (type.empty() || type == "debug") {
    out.push_back(fmt::format("build_type={}: not an optimised build, so timings are meaningless; configure "
                              "with -DCMAKE_BUILD_TYPE=Release",
                              fp.build_type.empty() ? "(none)" : fp.build_type));
  }
  if (fp.build_flags.find("-fsanitize") != std::string::npos) {
    out.push_back("build_flags contain -fsanitize: sanitizer instrumentation slows every op; measure with a "
                  "plain Release build");
  }
  if (fp.governor == kUnknown) {
    out.push_back("governor=unknown: cpufreq is not exposed (usual in a VM), so frequency scaling cannot be "
                  "ruled out; compare the drift check before and after the run");
  } else if (fp.governor != "performance") {
    out.push_back(fmt::format("governor={}: the clock follows the load, so short ops run at a lower "
                              "frequency than long ones; set it with `cpupower frequency-set -g performance`",
                              fp.governor));
  }
  if (fp.cores > 0 && fp.threads > fp.cores) {
    out.push_back(fmt::format("threads={} > cores={}: SMT siblings share one core's execution units, so "
                              "timings will not scale with threads",
                              fp.threads, fp.cores));
  }
  return out;
}

}  // namespace hwnas
