# One image for every role; the role is chosen by the command (--role api|projector|worker).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# tsx runs the TypeScript sources directly (no build step), so it is installed with the rest.
RUN npm ci --no-audit --no-fund --include=dev && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
COPY migrations ./migrations
# The dashboard (/dashboard) is built into web/dist and served by the API.
COPY web ./web
RUN npm run build:web
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "src/cli/serve.ts"]
