/**
 * Delivering OTPs. teeka does not send SMS itself: production posts `{mobile, otp}` to a webhook
 * of the operator's SMS provider; the demo prints the OTP to the gateway log (test numbers need
 * none: they accept the fixed test OTP).
 */
import type { TeekaConfig } from '../engine/config.js';

export type OtpSender = (mobile: string, otp: string) => Promise<void>;

export function otpSenderFor(config: TeekaConfig): OtpSender {
  if (config.smsWebhook) {
    const url = config.smsWebhook;
    return async (mobile, otp) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ mobile, otp }),
        signal: AbortSignal.timeout(3000),
      });
      if (!response.ok) throw new Error(`SMS webhook answered ${response.status}`);
    };
  }
  return async (mobile, otp) => {
    console.log(`[demo] OTP for mobile ending ${mobile.slice(-4)}: ${otp}`);
  };
}
