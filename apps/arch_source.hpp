// Where a command finds the Arch it is given: a JSON file, or the name of a catalog model.
//
//   ArchSource source = resolve_arch("swin_t");          // supernet/catalog/swin_t.json
//   ArchSource source = resolve_arch("runs/best.json");  // a file
//
// The catalog is $HWNAS_CATALOG_DIR when set, else supernet/catalog/ of the source tree this hwnas
// was built from.
#pragma once

#include <string>
#include <vector>

#include "supernet/arch.hpp"

namespace hwnas::cli {

std::string catalog_dir();
// The catalog's model names (the stems of its *.json files), sorted; empty if the directory is
// absent.
std::vector<std::string> catalog_names(const std::string& dir);

struct ArchSource {
  Arch arch;  // parsed and validated at 224 (parse_arch); the name is the file's stem if unnamed
  std::string path;  // the file it was read from
};

// A word naming an existing file, or containing '/' or ending in ".json", is a path; any other is a
// catalog name. Throws InvalidArgument for a path that does not exist, for a name the catalog lacks
// (listing the catalog's names), and for a malformed or inconsistent file (naming the file).
ArchSource resolve_arch(const std::string& name_or_path);

}  // namespace hwnas::cli
