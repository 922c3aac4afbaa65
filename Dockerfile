# tokenwatch container image (used by docker-compose.yml).
FROM node:24-bookworm-slim
WORKDIR /app
COPY . .
# npm ci compiles the TypeScript (the `prepare` script): the image runs dist/, no transpiler
RUN npm ci --no-audit --no-fund
ENTRYPOINT ["node", "bin/tokenwatch.js"]
