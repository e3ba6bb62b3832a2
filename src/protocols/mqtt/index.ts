/** MQTT 3.1, 3.1.1 and 5: a complete CONNECT packet. */
import type { ProtocolModule } from '../module.js';
import { parseMqttConnect, type MqttConnect } from './parse.js';

export const mqtt: ProtocolModule<'mqtt', MqttConnect, 'mqtt'> = {
  key: 'mqtt',
  tcp: (b, max) => parseMqttConnect(b, max),
  names: { mqtt: null },
};
