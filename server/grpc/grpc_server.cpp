#include <agentrt/server/grpc_server.hpp>

#include "grpc/agent_service.hpp"
#include "shared/wire.hpp"

#include <spdlog/spdlog.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <climits>
#include <mutex>
#include <system_error>

namespace agentrt::server {

struct GrpcServer::Impl {
  detail::GrpcContextPtr ctx;
  std::unique_ptr<detail::AgentService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::once_flag stopped;
};

GrpcServer::GrpcServer(Runtime& runtime, GrpcConfig config) : impl_(std::make_unique<Impl>()) {
  auto log = detail::logger_or_null(config.logger, "agentrt-grpc");
  impl_->ctx = std::make_shared<detail::GrpcContext>(runtime, std::move(config), std::move(log));
  impl_->service = std::make_unique<detail::AgentService>(impl_->ctx);
}

GrpcServer::~GrpcServer() {
  stop(std::chrono::milliseconds{0});
}

void GrpcServer::start() {
  const auto& cfg = impl_->ctx->config;
  auto address = (cfg.bind_address.find(':') != std::string::npos
                    ? "[" + cfg.bind_address + "]" // an IPv6 literal
                    : cfg.bind_address)
                 + ":" + std::to_string(cfg.port);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &impl_->port);
  builder.RegisterService(impl_->service.get());
  builder.SetMaxReceiveMessageSize(
    static_cast<int>(std::min<std::size_t>(cfg.max_message_bytes, INT_MAX)));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(cfg.keepalive.count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10'000);
  // A client may ping as often as every 10 s without calls in flight (its keepalive).
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || impl_->port == 0)
    throw std::system_error(std::make_error_code(std::errc::address_in_use),
                            "agentrt: cannot serve gRPC on " + address);
  impl_->ctx->log->info("[-/-] gRPC AgentService on {}:{}", cfg.bind_address, impl_->port);
}

std::uint16_t GrpcServer::port() const noexcept {
  return static_cast<std::uint16_t>(impl_->port);
}

std::size_t GrpcServer::drain(std::chrono::milliseconds wait) {
  impl_->ctx->draining.store(true, std::memory_order_release);
  return impl_->ctx->wait_idle(wait);
}

void GrpcServer::stop(std::chrono::milliseconds grace) {
  std::call_once(impl_->stopped, [&] {
    impl_->ctx->draining.store(true, std::memory_order_release);
    if (!impl_->server)
      return;
    // Past the grace gRPC cancels what still runs (OnCancel cancels each call), then this
    // waits for every reactor to be done.
    impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
    impl_->server->Wait();
  });
}

} // namespace agentrt::server
