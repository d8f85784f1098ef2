// The live availability of the citizen page's search results: one WebSocket to the gateway's
// /teeka/ws/availability, subscribed to the districts of the last search.

/**
 * A WebSocket to the gateway (`/teeka/ws/availability`: capacities by district, and the places of
 * fair admission's queues), `query` appended; `onMessage` gets each message parsed (others are dropped).
 */
export function gatewaySocket(query, onMessage) {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/teeka/ws/availability${query}`);
  socket.addEventListener('message', (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    onMessage(message);
  });
  return socket;
}

/**
 * The availability feed: one WebSocket subscribed to the districts of the last search. It
 * reconnects with backoff; capacities pushed while it was away are not replayed, so it says so.
 */
export class AvailabilityFeed {
  constructor(onSessions, onState) {
    this.onSessions = onSessions;
    this.onState = onState;
    this.districts = [];
    this.socket = null;
    this.retryMs = 1000;
    this.retryTimer = null;
    /** the socket dropped since the last subscription: pushes may have been missed */
    this.interrupted = false;
  }

  watch(districtIds) {
    const previous = this.districts;
    this.districts = [...new Set(districtIds)];
    if (!this.districts.length) return this.stop();
    if (this.socket?.readyState === WebSocket.OPEN) {
      const gone = previous.filter((id) => !this.districts.includes(id));
      if (gone.length) this.socket.send(JSON.stringify({ unsubscribe: gone }));
      this.socket.send(JSON.stringify({ subscribe: this.districts }));
    } else if (!this.socket) {
      this.connect();
    }
  }

  connect() {
    clearTimeout(this.retryTimer);
    // the districts ride on the URL: the socket is subscribed the moment it opens
    const socket = gatewaySocket(`?district_id=${this.districts.join(',')}`, (message) => {
      if (message.type === 'subscribed' && message.district_ids.length) {
        this.retryMs = 1000;
        this.onState(this.interrupted ? 'resumed' : 'live');
        this.interrupted = false;
      } else if (message.type === 'availability') {
        this.onSessions(message.sessions);
      }
    });
    this.socket = socket;
    this.onState('connecting');
    socket.addEventListener('close', () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (!this.districts.length) return;
      this.interrupted = true;
      this.onState('reconnecting');
      this.retryTimer = setTimeout(() => this.connect(), this.retryMs);
      this.retryMs = Math.min(this.retryMs * 2, 15_000);
    });
  }

  stop() {
    this.districts = [];
    this.interrupted = false;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close();
    this.onState('off');
  }
}
