#include "harmonize_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <sstream>
#include <thread>

namespace vh::ofx {
namespace v1 = vh::server::v1;

namespace {

// GetInfo is cheap; a server that does not answer within this is treated as unreachable.
constexpr auto kInfoDeadline = std::chrono::seconds(5);
// A whole window at 4K on a busy GPU stays well within this; it bounds a hung server, not normal work.
constexpr auto kHarmonizeDeadline = std::chrono::minutes(10);
// How often a waiting render checks the host's abort flag.
constexpr auto kAbortPoll = std::chrono::milliseconds(50);
// Used when the server does not state a chunk size (gRPC's default message limit is 4 MiB).
constexpr std::size_t kDefaultChunkBytes = 1u << 20;

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// gRPC status -> one line for the compositor. The server's own message is already written for them; the
// transport-level codes get a hint about what to do.
std::string describeStatus(const grpc::Status& status, const std::string& address) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return "vh-server at " + address + " is not reachable (is `vh-server` running there?): " +
             status.error_message();
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "vh-server at " + address + " did not answer in time";
    case grpc::StatusCode::CANCELLED:
      return "render cancelled";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "the server at " + address + " does not speak vh.server.v1 (wrong address or version?)";
    default:
      return "vh-server: " + status.error_message();
  }
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

HarmonizeClient::HarmonizeClient(std::string address) : address_(trim(address)) {
  if (address_.empty()) throw BridgeError("no vh-server address set (e.g. 127.0.0.1:50051)");
  grpc::ChannelArguments args;
  // Output chunks are sized by the server; do not let gRPC's 4 MiB default reject a large one.
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::Harmonizer::NewStub(channel_);
}

HarmonizeClient::~HarmonizeClient() = default;

const v1::ServerInfo& HarmonizeClient::info() {
  if (info_) return *info_;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kInfoDeadline);
  auto answer = std::make_unique<v1::ServerInfo>();
  const grpc::Status status = stub_->GetInfo(&context, v1::GetInfoRequest(), answer.get());
  if (!status.ok()) throw BridgeError(describeStatus(status, address_));
  info_ = std::move(answer);
  return *info_;
}

const v1::ModelInfo& HarmonizeClient::model(const std::string& requested) {
  const v1::ServerInfo& server = info();
  const std::string name = trim(requested).empty() ? server.default_model() : trim(requested);
  for (const v1::ModelInfo& m : server.models()) {
    if (m.name() == name) return m;
    for (const std::string& alias : m.aliases())
      if (alias == name) return m;
  }
  std::string known;
  for (const v1::ModelInfo& m : server.models()) known += (known.empty() ? "" : ", ") + m.name();
  throw BridgeError("vh-server at " + address_ + " has no model '" + name + "'; available: " + known);
}

std::string HarmonizeClient::describe() {
  const v1::ServerInfo& server = info();
  std::ostringstream out;
  out << "vh-server " << server.server_version() << " on " << server.device().name() << " at " << address_
      << "; default model " << server.default_model() << "; models:";
  for (const v1::ModelInfo& m : server.models()) out << ' ' << m.name() << "(window " << m.window() << ')';
  return out.str();
}

google::protobuf::Map<std::string, v1::OptionValue> parseOptions(const std::string& text,
                                                                 const v1::ModelInfo& model) {
  google::protobuf::Map<std::string, v1::OptionValue> values;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    item = trim(item);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    if (eq == std::string::npos) throw BridgeError("option '" + item + "' is not name=value");
    const std::string name = trim(item.substr(0, eq));
    const std::string value = trim(item.substr(eq + 1));
    const v1::OptionSpec* spec = nullptr;
    for (const v1::OptionSpec& s : model.options())
      if (s.name() == name) spec = &s;
    if (!spec) {
      std::string known;
      for (const v1::OptionSpec& s : model.options()) known += (known.empty() ? "" : ", ") + s.name();
      throw BridgeError("model " + model.name() + " has no option '" + name + "'" +
                        (known.empty() ? " (it takes none)" : "; options: " + known));
    }
    v1::OptionValue typed;
    char* end = nullptr;
    const std::string bad = "option " + name + "=" + value + " is not a valid " + spec->kind();
    if (spec->kind() == "float") {
      const double number = std::strtod(value.c_str(), &end);
      if (value.empty() || *end) throw BridgeError(bad);
      typed.set_number(number);
    } else if (spec->kind() == "int") {
      const long long integer = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end) throw BridgeError(bad);
      typed.set_integer(integer);
    } else if (spec->kind() == "bool") {
      const std::string v = lower(value);
      if (v == "1" || v == "true" || v == "on" || v == "yes") typed.set_flag(true);
      else if (v == "0" || v == "false" || v == "off" || v == "no") typed.set_flag(false);
      else throw BridgeError(bad);
    } else {  // "choice": the server validates membership and answers with the list
      typed.set_choice(value);
    }
    values[name] = typed;
  }
  return values;
}

void HarmonizeClient::harmonize(const StreamSettings& settings, const FrameGeometry& geometry, std::size_t count,
                                bool separateMatte, const FrameSource& frameAt,
                                const std::vector<std::uint8_t*>& outputs, const std::function<bool()>& aborted) {
  if (count == 0 || count != outputs.size()) throw BridgeError("internal: frame/output count mismatch");
  const v1::ServerInfo& server = info();
  const v1::ModelInfo& chosen = model(settings.model);

  v1::HarmonizeRequest first;
  v1::StreamHeader& header = *first.mutable_header();
  header.set_model(chosen.name());
  *header.mutable_options() = parseOptions(settings.options, chosen);
  v1::FrameFormat& format = *header.mutable_format();
  format.set_width(geometry.width);
  format.set_height(geometry.height);
  format.set_channels(geometry.channels);
  format.set_dtype(geometry.type == SampleType::kFloat16 ? v1::DTYPE_FLOAT16 : v1::DTYPE_FLOAT32);
  for (const char* name : {"R", "G", "B", "A"}) format.add_channel_names(name);
  format.set_colorspace(settings.colorspace);
  header.set_matte_source(separateMatte ? v1::MATTE_SEPARATE : v1::MATTE_ALPHA);
  header.set_ocio_config(settings.ocioConfig);
  header.set_strength(settings.strength);
  header.set_frame_count(static_cast<std::uint32_t>(count));
  header.set_first_frame(settings.firstFrame);
  header.set_client_name("vh-ofx 0.1");

  std::size_t chunkBytes = server.limits().max_chunk_bytes() ? server.limits().max_chunk_bytes() : kDefaultChunkBytes;
  chunkBytes = std::max<std::size_t>(chunkBytes - chunkBytes % 16, 16);  // whole samples per chunk

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kHarmonizeDeadline);
  auto stream = stub_->Harmonize(&context);

  // The reader runs beside the writer: the server answers frames while later ones are still arriving, and with
  // both directions flow-controlled a client that only wrote and then read would stall on a long window. The
  // calling (host) thread writes, so that host images are only ever fetched on the thread the host called us on.
  std::mutex mutex;
  std::condition_variable finished;
  bool readerDone = false;
  std::string protocolError;  // set by the reader before readerDone
  std::size_t complete = 0;
  std::thread reader([&] {
    std::vector<std::size_t> received(count, 0);
    bool accepted = false;
    std::string error;
    v1::HarmonizeResponse response;
    while (error.empty() && stream->Read(&response)) {
      if (response.has_accepted()) {
        const v1::FrameFormat& out = response.accepted().format();
        if (out.width() != geometry.width || out.height() != geometry.height ||
            out.channels() != geometry.channels || out.dtype() != format.dtype())
          error = "vh-server answered with a different frame format than it was sent";
        accepted = true;
        continue;
      }
      const v1::Chunk& chunk = response.chunk();
      const std::size_t index = chunk.frame_index();
      if (!accepted || index >= count || chunk.plane() != v1::PLANE_IMAGE || chunk.offset() != received[index] ||
          chunk.offset() + chunk.data().size() > geometry.imageBytes()) {
        error = "vh-server sent an out-of-order or oversized chunk (frame " + std::to_string(index) + ")";
        break;
      }
      std::copy(chunk.data().begin(), chunk.data().end(), outputs[index] + chunk.offset());
      received[index] += chunk.data().size();
      if (received[index] == geometry.imageBytes()) ++complete;
    }
    if (!error.empty()) context.TryCancel();
    std::lock_guard<std::mutex> lock(mutex);
    protocolError = error;
    readerDone = true;
    finished.notify_all();
  });

  auto sendPlane = [&](std::uint64_t index, v1::Plane plane, const std::uint8_t* data, std::size_t bytes) {
    for (std::size_t offset = 0; offset < bytes; offset += chunkBytes) {
      v1::HarmonizeRequest request;
      v1::Chunk& chunk = *request.mutable_chunk();
      chunk.set_frame_index(index);
      chunk.set_plane(plane);
      chunk.set_offset(offset);
      chunk.set_data(data + offset, std::min(chunkBytes, bytes - offset));
      if (!stream->Write(request)) return false;  // the call ended early; Finish() says why
    }
    return true;
  };
  bool cancelled = false;
  std::exception_ptr frameError;  // a failure to fetch a host frame, rethrown once the stream is wound down
  bool ok = stream->Write(first);
  for (std::size_t i = 0; ok && i < count; ++i) {
    if (aborted && aborted()) {
      cancelled = true;
      break;
    }
    try {
      const FramePlanes planes = frameAt(i);  // valid until the next call
      ok = sendPlane(i, v1::PLANE_IMAGE, planes.image, geometry.imageBytes());
      if (ok && separateMatte) ok = sendPlane(i, v1::PLANE_MATTE, planes.matte, geometry.matteBytes());
    } catch (...) {
      frameError = std::current_exception();
      break;
    }
  }
  if (cancelled || frameError) context.TryCancel();
  else if (ok) stream->WritesDone();
  {
    // Wait for the answers, polling the host's abort flag so that Esc stops a long window promptly.
    std::unique_lock<std::mutex> lock(mutex);
    while (!readerDone) {
      if (!cancelled && aborted && aborted()) {
        cancelled = true;
        context.TryCancel();
      }
      finished.wait_for(lock, kAbortPoll);
    }
  }
  reader.join();
  const grpc::Status status = stream->Finish();
  if (frameError) std::rethrow_exception(frameError);
  if (cancelled) throw BridgeError("render cancelled");
  if (!protocolError.empty()) throw BridgeError(protocolError);
  if (!status.ok()) throw BridgeError(describeStatus(status, address_));
  if (complete != count)
    throw BridgeError("vh-server returned " + std::to_string(complete) + " of " + std::to_string(count) + " frames");
}

}  // namespace vh::ofx
