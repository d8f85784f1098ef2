# teeka: one image for the gateway, the worker and the setup step (the command picks which).
# Build stage: compile TypeScript with the dev dependencies, then drop them.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY engine engine
COPY gateway gateway
COPY worker worker
COPY scripts scripts
COPY masterdata masterdata
COPY loadtest loadtest
COPY lua lua
COPY migrations migrations
RUN npm run build && npm prune --omit=dev

# Runtime stage: what the processes read at run time, nothing else.
# (uWebSockets.js ships a native binary for glibc; bookworm's glibc 2.36 loads it.)
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY lua lua
COPY migrations migrations
COPY masterdata masterdata
COPY web web
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/gateway/main.js"]
